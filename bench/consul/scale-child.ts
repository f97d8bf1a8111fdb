/**
 * One side of the scale bench, in a process of its own so its memory and sockets are its own:
 * `scale-child.ts <rollcall|consul> <agent address> <services> <wait ms> <idle ms>`. Watches every
 * `scale-<i>` service, waits until each watch has an answer (or the settle time is up), then counts
 * requests over an idle period. Prints one JSON line.
 */
import { subscribe } from 'node:diagnostics_channel';
import Consul from 'consul';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';

const [kind, address = '', countArg = '1000', waitArg = '10000', idleArg = '21000'] = process.argv.slice(2);
const count = Number(countArg);
const waitMs = Number(waitArg);
const idleMs = Number(idleArg);
const SETTLE_MS = 20_000;

let requests = 0;
subscribe('undici:request:create', () => requests++);
subscribe('http.client.request.start', () => requests++);

const gc = (globalThis as { gc?: () => void }).gc;
const memory = () => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};

const names = Array.from({ length: count }, (_, i) => `scale-${i}`);
const answered = new Set<string>();
const failed = new Set<string>();
let errors = 0;
// A settled baseline: modules loaded, a first GC done, nothing watched yet.
await new Promise((r) => setTimeout(r, 300));
const before = memory();
let stop: () => Promise<void>;

if (kind === 'rollcall') {
  const registry = createConsulRegistry({ address, wait: waitMs });
  const watchers = names.map((name) => {
    const w = registry.watch({ service: name });
    void w.synced.then(() => answered.add(name));
    void (async () => {
      try {
        for await (const _event of w);
      } catch {
        failed.add(name);
      }
    })();
    return w;
  });
  stop = async () => {
    for (const w of watchers) w.stop();
    await registry.close();
  };
} else {
  const url = new URL(address);
  const client = new Consul({ host: url.hostname, port: Number(url.port) });
  const watches = names.map((name) => {
    const watch = client.watch({ method: client.health.service, options: { service: name, passing: 'true', wait: `${waitMs}ms` } });
    watch.on('change', () => {
      answered.add(name);
      failed.delete(name);
    });
    watch.on('error', () => {
      errors++;
      if (!answered.has(name)) failed.add(name);
    });
    return watch;
  });
  stop = async () => {
    for (const w of watches) w.end();
    client.destroy();
  };
}

const deadline = performance.now() + SETTLE_MS;
while (answered.size < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
const settled = performance.now() - (deadline - SETTLE_MS);
const after = memory();
const startRequests = requests;
await new Promise((r) => setTimeout(r, idleMs));
const idleRequests = requests - startRequests;
process.stdout.write(
  `${JSON.stringify({
    kind,
    watches: count,
    answered: answered.size,
    failing: count - answered.size,
    errors,
    settledMs: Math.round(settled),
    rssPerWatch: (after.rss - before.rss) / count,
    heapPerWatch: (after.heap - before.heap) / count,
    idleRequests,
    idleMs,
  })}\n`,
);
await stop();
process.exit(0);
