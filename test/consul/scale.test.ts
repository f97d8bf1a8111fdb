/**
 * 1,000 watched services through a connection cap of 8 against a default-config agent (Consul
 * allows 200 connections per client address). Past the cap the adapter follows the aggregate
 * indexes; every change must still arrive, and `ss` must never show more than 8 connections from
 * this process to the agent. The services are registered by a child process, whose connections
 * are not this process's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import type { Registration } from '../../src/index.js';
import { Recorder, uniqueName } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

const SERVICES = 1_000;
const CAP = 8;
const run = promisify(execFile);

/** Connections of this process to the agent's HTTP port, as `ss` reports them (every state with an owner). */
async function connectionsTo(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-tnpH', 'dst', `127.0.0.1:${port}`]);
  return stdout.split('\n').filter((line) => line.includes(`pid=${process.pid},`)).length;
}

test(`scale: ${SERVICES} watched services through ${CAP} connections, every change seen`, { timeout: 120_000 }, async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const child = await spawnRegistry({ options: { kind: 'consul', address: agent.address, maxConnections: 16 } });
  const watcher = createConsulRegistry({ address: agent.address, maxConnections: CAP });
  t.after(async () => {
    await watcher.close();
    await child.close().catch(() => child.kill());
    await agent.stop();
  });

  let samples = 0;
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, await connectionsTo(agent.httpPort));
      samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.after(async () => {
    sampling = false;
    await sampler;
  });

  const prefix = uniqueName('scale');
  const names = Array.from({ length: SERVICES }, (_, i) => `${prefix}-${i}`);
  const regs = new Map<string, Registration>();
  const node = (name: string, n: number, build = '1') => ({
    name,
    version: '1.0.0',
    nodes: [{ id: `${name}-${n}`, address: `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}:8080`, metadata: { build } }],
  });
  const tStart = performance.now();
  for (let i = 0; i < SERVICES; i += 100) {
    await Promise.all(names.slice(i, i + 100).map(async (name) => regs.set(`${name}-0`, await child.register(node(name, 0)))));
  }

  const t0 = performance.now();
  const recorders = names.map((name) => new Recorder(watcher.watch({ service: name })));
  const everything = new Recorder(watcher.watch());
  t.after(() => Promise.all([...recorders, everything].map((r) => r.stop())));
  await Promise.all([...recorders, everything].map((r) => r.watcher.synced));
  const syncedAfter = performance.now() - t0;
  for (const [i, rec] of recorders.entries()) assert.deepEqual(rec.nodeIds(names[i] as string), [`${names[i]}-0`]);
  assert.equal(watcher.stats().watchMode, 'aggregate');

  // Changes: 100 services lose their node, 100 gain a second one, 100 are re-registered with new metadata.
  const before = Number(watcher.stats().watchRequestsSent);
  const t1 = performance.now();
  await Promise.all(names.slice(0, 100).map((name) => regs.get(`${name}-0`)?.deregister()));
  await Promise.all(names.slice(100, 200).map((name) => child.register(node(name, 1))));
  await Promise.all(names.slice(200, 300).map((name) => child.register(node(name, 0, '2'))));
  const madeIn = performance.now() - t1;
  const expected = (i: number): string[] => {
    const name = names[i] as string;
    if (i < 100) return [];
    if (i < 200) return [`${name}-0`, `${name}-1`];
    return [`${name}-0`];
  };
  await Promise.all(
    recorders.map((rec, i) =>
      rec.until(
        (r) =>
          JSON.stringify(r.nodeIds(names[i] as string)) === JSON.stringify(expected(i)) &&
          (i < 200 || i >= 300 || r.state.get(`${names[i]}@1.0.0`)?.nodes[0]?.metadata.build === '2'),
        20_000,
        `the changes of ${names[i]}`,
      ),
    ),
  );
  await everything.until(
    (r) => names.every((name, i) => JSON.stringify(r.nodeIds(name)) === JSON.stringify(expected(i))),
    20_000,
    'every change in the watch of everything',
  );
  const changedAfter = performance.now() - t1;
  sampling = false;
  await sampler;
  const stats = watcher.stats();
  t.diagnostic(
    `registered in ${(t0 - tStart).toFixed(0)} ms; synced ${SERVICES} watches in ${syncedAfter.toFixed(0)} ms; 300 changes made in ${madeIn.toFixed(0)} ms, seen in ${changedAfter.toFixed(0)} ms with ${Number(stats.watchRequestsSent) - before} watch requests; ` +
      `most connections seen by ss: ${most} over ${samples} samples; blocking queries ${stats.blockingQueries}; ` +
      `requests: ${stats.requestsSent} ordinary, ${stats.watchRequestsSent} watch`,
  );
  assert.ok(samples >= 10, `ss sampled ${samples} times`);
  assert.ok(most <= CAP, `ss saw ${most} connections`);
  assert.ok(most >= 2, 'the sampler saw the watch connections');
  for (const rec of recorders) assert.equal(rec.error, undefined);
});
