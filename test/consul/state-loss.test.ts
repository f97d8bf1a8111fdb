/**
 * Agent state loss: the agent dies and a fresh one (empty catalog, new raft log) comes up on the
 * same ports. Registrations must come back on their own within a heartbeat plus a second, and
 * watchers must follow without being recreated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Registration, Registry } from '../../src/index.js';
import { createRegistry } from '../../src/index.js';
import { Recorder, service, uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

const TTL = 3_000;

test('state loss: registrations return within ttl/3 + 1 s of the new leader; watchers recover in place', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const registries: Registry[] = [];
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    await agent.stop();
  });
  const open = async () => {
    const r = await createRegistry({ kind: 'consul', address: agent.address, ttl: TTL });
    registries.push(r);
    return r;
  };
  const owner = await open();
  const watcher = await open();
  const prefix = uniqueName('loss');
  const names = [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`);

  const rec = new Recorder(watcher.watch());
  t.after(() => rec.stop());
  const named = new Recorder(watcher.watch({ service: names[0] as string }));
  t.after(() => named.stop());
  await Promise.all([rec.watcher.synced, named.watcher.synced]);

  const events: string[] = [];
  const regs: Registration[] = [];
  for (const [i, name] of names.entries()) {
    const reg = await owner.register(service(name, [{ id: `${name}-n`, port: 9_000 + i }]));
    reg.on('lost', () => events.push(`lost ${name}`));
    reg.on('restored', () => events.push(`restored ${name}`));
    regs.push(reg);
  }
  const allBack = (r: Recorder) => names.every((n) => r.nodeIds(n).length === 1);
  await rec.until(allBack, 3_000, 'every service watched before the restart');

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
  t.diagnostic(`every registration passing again ${backAfter.toFixed(0)} ms after the new leader (bound ${TTL / 3 + 1_000} ms)`);
  assert.ok(backAfter <= TTL / 3 + 1_000, `registrations back after ${backAfter.toFixed(0)} ms`);

  // The same watchers, never recreated, converge on the restored state.
  await rec.until(allBack, 5_000, 'the watch-all watcher to see every service again');
  await named.until((r) => r.nodeIds(names[0] as string).length === 1, 5_000, 'the named watcher to see its service again');
  const watchedAfter = performance.now() - leaderAt;
  t.diagnostic(`watchers hold every service again ${watchedAfter.toFixed(0)} ms after the new leader`);
  for (const name of names) {
    assert.ok(events.includes(`lost ${name}`), `lost emitted for ${name}`);
    assert.ok(events.includes(`restored ${name}`), `restored emitted for ${name}`);
  }
  assert.equal(rec.error, undefined);
  assert.equal(named.error, undefined);
  const stats = watcher.stats();
  assert.ok(stats.backendErrors > 0, 'the outage was counted');
  assert.equal(stats.watchers, 2);
});
