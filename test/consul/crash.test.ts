/**
 * A registering process dies by SIGKILL: no goodbye, no more heartbeats. Watchers must see the
 * node go about one TTL after its last pass, not when Consul's reaper removes it (60-90 s later).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { Recorder, service, uniqueName } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

const TTL = 3_000;

test('crash: a SIGKILLed registering process leaves watches ~ttl after its last pass', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const watcher = createConsulRegistry({ address: agent.address });
  t.after(async () => {
    await watcher.close();
    await agent.stop();
  });
  const child = await spawnRegistry({ options: { kind: 'consul', address: agent.address } });
  t.after(() => child.kill());

  const name = uniqueName('sigkill');
  const rec = new Recorder(watcher.watch({ service: name }));
  t.after(() => rec.stop());
  await rec.watcher.synced;
  await child.register(service(name, [{ id: `${name}-1`, port: 7_801 }]), { ttl: TTL });
  await rec.until((r) => r.nodeIds(name).length === 1, 3_000, 'create');
  // Several heartbeats: the child keeps it alive.
  await new Promise((r) => setTimeout(r, TTL * 1.2));
  assert.deepEqual(rec.nodeIds(name), [`${name}-1`]);

  const killedAt = performance.now();
  await child.kill();
  await rec.until((r) => r.nodeIds(name).length === 0, TTL + 3_000, 'delete after the SIGKILL');
  const gone = performance.now() - killedAt;
  t.diagnostic(`delete seen ${gone.toFixed(0)} ms after SIGKILL (ttl ${TTL} ms, heartbeat every ${TTL / 3} ms)`);
  // The last pass was at most ttl/3 before the kill, so the check expired within (2/3 ttl, ttl].
  assert.ok(gone >= (TTL * 2) / 3 - 100 && gone <= TTL + 1_500, `delete after ${gone.toFixed(0)} ms`);
  assert.equal(rec.events.at(-1)?.type, 'delete');

  // Consul still lists the instance (critical): the watch followed the passing view, not the reaper.
  const all = await agent.request(`/v1/health/service/${name}`);
  const entries = all.json<Array<{ Checks: Array<{ CheckID: string; Status: string; Output: string }> }>>();
  assert.equal(entries.length, 1, 'the catalog still holds the crashed instance');
  const ttlCheck = entries[0]?.Checks.find((c) => c.CheckID === `service:${name}-1`);
  assert.equal(ttlCheck?.Status, 'critical');
});
