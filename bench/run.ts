/**
 * `npm run bench`: every benchmark, each comparing rollcall with its floor or peer in the same run.
 * Pass names to run a subset: `npm run bench -- memory`.
 */
const suites: Record<string, () => Promise<unknown>> = {
  memory: async () => {
    await (await import('./memory/registry.bench.js')).run();
    await (await import('./memory/register.bench.js')).run();
  },
  mdns: async () => {
    await (await import('./mdns/read.bench.js')).run();
    await (await import('./mdns/discovery.bench.js')).run();
  },
  gossip: async () => {
    await (await import('./gossip/broadcast.bench.js')).run();
    await (await import('./gossip/members.bench.js')).run();
    await (await import('./gossip/wire.bench.js')).run();
    await (await import('./gossip/detection.bench.js')).run();
    await (await import('./gossip/propagation.bench.js')).run();
  },
  consul: async () => {
    await (await import('./consul/latency.bench.js')).run();
    await (await import('./consul/scale.bench.js')).run();
  },
  client: async () => (await import('./client/cache.bench.js')).run(),
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n# ${name}`);
  await run();
}
