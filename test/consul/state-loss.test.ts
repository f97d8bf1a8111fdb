/**
 * Agent state loss: the agent dies and a fresh one (empty catalog, new raft log) comes up on the
 * same ports. Registrations must come back on their own within a heartbeat plus a second, and
 * watchers must follow without being recreated: they must see the new agent's state, including
 * the instance of a crashed process that nobody brings back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashConsulRegistry } from '../../src/adapters/consul/registry.js';
import type { Registration } from '../../src/index.js';
import { Recorder, service, uniqueName } from '../conformance/helpers.js';
import { withAgent } from './agent-registries.js';

const TTL = 3_000;
const BOUND = TTL / 3 + 1_000;

test('state loss: registrations return within ttl/3 + 1 s of the new leader; watchers recover in place', async (t) => {
  const env = await withAgent(t, { ttl: TTL });
  if (!env) return;
  const { agent, open } = env;
  const owner = await open();
  const watcher = await open();
  const crashed = await open();
  const prefix = uniqueName('loss');
  const names = [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`);
  const gone = `${prefix}-gone`;

  // A long-lived agent is far ahead of a fresh one in raft indexes, and the watchers' blocking
  // queries carry those indexes to the new agent. (Without these writes the new agent, given the
  // same registrations, reaches the very same indexes, and stuck queries would go unnoticed.)
  for (let i = 0; i < 40; i++) await agent.request(`/v1/kv/${prefix}/${i}`, { method: 'PUT', body: 'x' });

  const rec = new Recorder(watcher.watch());
  t.after(() => rec.stop());
  const named = new Recorder(watcher.watch({ service: names[0] as string }));
  t.after(() => named.stop());
  const ghost = new Recorder(watcher.watch({ service: gone }));
  t.after(() => ghost.stop());
  await Promise.all([rec.watcher.synced, named.watcher.synced, ghost.watcher.synced]);

  const events: string[] = [];
  const restoredAt = new Map<string, number>();
  const regs: Registration[] = [];
  for (const [i, name] of names.entries()) {
    const reg = await owner.register(service(name, [{ id: `${name}-n`, port: 9_000 + i }]));
    reg.on('lost', () => events.push(`lost ${name}`));
    reg.on('restored', () => {
      events.push(`restored ${name}`);
      restoredAt.set(name, performance.now());
    });
    regs.push(reg);
  }
  await crashed.register(service(gone, [{ id: `${gone}-n`, port: 9_100 }]));
  const allBack = (r: Recorder) => names.every((n) => r.nodeIds(n).length === 1) && r.nodeIds(gone).length === 0;
  await rec.until((r) => names.every((n) => r.nodeIds(n).length === 1) && r.nodeIds(gone).length === 1, 3_000, 'everything watched');
  await ghost.until((r) => r.nodeIds(gone).length === 1, 3_000, 'the crashed process’s instance watched');

  // The process holding `gone` dies without a goodbye, then the agent loses everything.
  crashConsulRegistry(crashed);
  await agent.restart();
  const leaderAt = performance.now();
  const passing = async (name: string) => {
    const res = await agent.request(`/v1/health/service/${name}?passing`);
    return res.status === 200 && res.json<unknown[]>().length === 1;
  };
  let backAfter = Number.NaN;
  for (;;) {
    if ((await Promise.all(names.map(passing))).every(Boolean)) {
      backAfter = performance.now() - leaderAt;
      break;
    }
    if (performance.now() - leaderAt > 10_000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.diagnostic(`every registration passing again ${backAfter.toFixed(0)} ms after the new leader (bound ${BOUND} ms)`);
  assert.ok(backAfter <= BOUND, `registrations back after ${backAfter.toFixed(0)} ms`);

  // The handles say so too. Consul writes the catalog before it answers the register call, so
  // `restored` trails what the catalog shows by a round trip or two: wait for it, within the bound.
  while (restoredAt.size < names.length && performance.now() - leaderAt < BOUND) await new Promise((r) => setTimeout(r, 10));
  const restoredAfter = Math.max(...names.map((n) => (restoredAt.get(n) ?? Number.NaN) - leaderAt));
  t.diagnostic(`every handle emitted restored ${restoredAfter.toFixed(0)} ms after the new leader`);
  for (const name of names) {
    assert.ok(events.includes(`lost ${name}`), `lost emitted for ${name}`);
    assert.ok(restoredAt.has(name), `restored emitted for ${name} within ${BOUND} ms of the new leader`);
  }

  // The same watchers, never recreated, converge on the new agent's state: the restored services
  // are there and the crashed process's instance is gone.
  await rec.until(allBack, 5_000, 'the watch-all watcher to follow the new agent');
  await named.until((r) => r.nodeIds(names[0] as string).length === 1, 5_000, 'the named watcher to see its service');
  await ghost.until((r) => r.nodeIds(gone).length === 0, 5_000, 'the named watcher to drop the instance nobody restored');
  t.diagnostic(`watchers follow the new agent ${(performance.now() - leaderAt).toFixed(0)} ms after the new leader`);
  assert.equal(rec.error, undefined);
  assert.equal(named.error, undefined);
  assert.equal(ghost.error, undefined);
  const stats = watcher.stats();
  assert.ok(stats.backendErrors > 0, 'the outage was counted');
  assert.equal(stats.watchers, 3);
});

test('state loss: a restart is acted on once the agent is back, not at the next heartbeat', async (t) => {
  const env = await withAgent(t);
  if (!env) return;
  const { agent } = env;
  // Heartbeats every 20 s: none falls within the test, so only the recovery can bring it back.
  const owner = await env.open({ ttl: 60_000 });
  const name = uniqueName('idle');
  const reg = await owner.register(service(name, [{ id: `${name}-n`, port: 9_200 }]));
  const events: string[] = [];
  reg.on('lost', () => events.push('lost'));
  reg.on('restored', () => events.push('restored'));

  // Every connection of the registry is idle when the agent dies: only its closing tells.
  await agent.restart();
  const leaderAt = performance.now();
  let backAfter = Number.NaN;
  while (performance.now() - leaderAt < 5_000) {
    const res = await agent.request(`/v1/health/service/${name}?passing`);
    if (res.status === 200 && res.json<unknown[]>().length === 1) {
      backAfter = performance.now() - leaderAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  t.diagnostic(`registration passing again ${backAfter.toFixed(0)} ms after the new leader (next heartbeat due in ~20 s)`);
  assert.ok(backAfter <= 3_000, `registration back after ${backAfter.toFixed(0)} ms`);
  while (events.length < 2 && performance.now() - leaderAt < 5_000) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(events, ['lost', 'restored']);
});
