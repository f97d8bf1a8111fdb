/**
 * A real 3-server cluster (127.0.0.2-4, raft_multiplier 1): register through one server, watch
 * through another, SIGKILL the leader. After the re-election the watch goes on by itself, and the
 * state its events replay to equals what the catalog says at the end, with no instance twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import type { Registry } from '../../src/index.js';
import { eventually, Recorder, recordedState, registryState, service, uniqueName } from '../conformance/helpers.js';
import { requirePeer } from '../peers/consul.js';
import { startCluster } from '../peers/consul-cluster.js';

const TTL = 3_000;

test('cluster: the watch survives a SIGKILL of the leader and replays to the catalog’s final state', async (t) => {
  const cluster = await requirePeer(t, () => startCluster({ size: 3 }));
  if (!cluster) return;
  const registries: Registry[] = [];
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    await cluster.stop();
  });
  const leader = await cluster.waitForLeader();
  const followers = cluster.servers.filter((s) => s.index !== leader);
  const [f1, f2] = followers as [(typeof followers)[0], (typeof followers)[0]];
  const leaderAddress = cluster.servers[leader]?.address as string;

  // The registering registry starts on the leader (the worst case) and may fail over to f1.
  const owner = createConsulRegistry({ address: [leaderAddress, f1.address], ttl: TTL });
  const watcher = createConsulRegistry({ address: f2.address });
  const reader = createConsulRegistry({ address: f1.address });
  registries.push(owner, watcher, reader);

  const prefix = uniqueName('cluster');
  const names = [0, 1, 2].map((i) => `${prefix}-${i}`);
  const all = new Recorder(watcher.watch());
  const one = new Recorder(watcher.watch({ service: names[0] as string }));
  t.after(() => Promise.all([all.stop(), one.stop()]));
  await Promise.all([all.watcher.synced, one.watcher.synced]);

  const lost: string[] = [];
  const restored: string[] = [];
  for (const [i, name] of names.entries()) {
    const reg = await owner.register(service(name, [{ id: `${name}-n`, port: 9_100 + i }]));
    reg.on('lost', () => lost.push(name));
    reg.on('restored', () => restored.push(name));
  }
  await all.until((r) => names.every((n) => r.nodeIds(n).length === 1), 5_000, 'every service through the other server');

  const killedAt = performance.now();
  await cluster.kill(leader);
  const next = await cluster.waitForLeader({ not: leader, timeoutMs: 20_000 });
  const electedAfter = performance.now() - killedAt;

  // Changes after the election must still reach the same watcher.
  const late = `${prefix}-late`;
  const lateReg = await owner.register(service(late, [{ id: `${late}-n`, port: 9_200 }]));
  const inScope = (m: Map<string, string[]>) => new Map([...m].filter(([k]) => k.startsWith(prefix)));
  let truth = new Map<string, string[]>();
  await eventually(
    async () => {
      truth = await registryState(reader, [...names, late]);
      const replayed = inScope(recordedState(all));
      return truth.size === names.length + 1 && JSON.stringify([...truth].sort()) === JSON.stringify([...replayed].sort());
    },
    20_000,
    'the replayed state to equal the catalog',
  );
  const convergedAfter = performance.now() - killedAt;
  t.diagnostic(
    `leader s${leader + 1} killed; s${next + 1} elected after ${electedAfter.toFixed(0)} ms; watch replayed the catalog ${convergedAfter.toFixed(0)} ms after the kill`,
  );
  for (const [key, ids] of truth) assert.equal(ids.length, 1, `${key} shows its instance once (${ids.join(', ')})`);
  assert.deepEqual(one.nodeIds(names[0] as string), [`${names[0]}-n`]);
  assert.equal(all.error, undefined);
  assert.equal(one.error, undefined);
  t.diagnostic(`failover: lost ${lost.length}, restored ${restored.length}; owner now on ${owner.stats().agent}`);
  assert.equal(lost.length, names.length, 'each registration noticed its agent was gone');
  await eventually(() => restored.length === names.length, 5_000, 'every registration restored on another server');
  await lateReg.deregister();
  await all.until((r) => r.nodeIds(late).length === 0, 5_000, 'a goodbye after the failover');
});
