/**
 * How a node leaves, seen from another host: a SIGKILLed process's node is deleted when its TTL
 * runs out (no sooner than its last refresh allows); a graceful close or deregistration is
 * deleted after the RFC's one-second goodbye grace, not before and not much after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan, type LanHost } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

async function pair(t: import('node:test').TestContext, hosts: [LanHost, LanHost], name: string, ttl: number) {
  const [a, b] = await Promise.all(hosts.map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
  if (!a || !b) throw new Error('spawn failed');
  t.after(() => Promise.allSettled([a.kill(), b.kill()]));
  const rec = new Recorder(b.watch({ service: name }));
  t.after(() => rec.stop());
  await rec.watcher.synced;
  const reg = await a.register({ name, nodes: [{ id: `${name}-1`, address: `${hosts[0].address}:9000` }] }, { ttl });
  await rec.until((r) => r.nodeIds(name).length === 1, 8000, `${name} seen on the other host`);
  return { a, b, rec, reg };
}

const skip = lanSkipReason();

describe('mdns: leaving', { timeout: 90_000, concurrency: true, skip }, () => {
  let lan: Lan<'n1' | 'n2' | 'n3' | 'n4' | 'n5' | 'n6'>;
  before(async () => {
    lan = await createLan({ hosts: ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'], ipv6: false });
  });
  after(() => lan?.destroy());
  const hosts = async () => lan.hosts;

  it('crash: SIGKILL on host A; host B deletes the node when its TTL runs out', async (t) => {
    const { n1: ha, n2: hb } = await hosts();
    const ttl = 3000;
    const { a, rec } = await pair(t, [ha, hb], 'crashy', ttl);
    // Stays while alive: several heartbeats and refreshes.
    await new Promise((r) => setTimeout(r, ttl * 1.5));
    assert.equal(rec.nodeIds('crashy').length, 1);
    const killedAt = Date.now();
    await a.kill();
    await rec.until((r) => r.nodeIds('crashy').length === 0, ttl + 3000, 'delete after the TTL');
    const elapsed = Date.now() - killedAt;
    // The last heartbeat was at most ttl/3 before the kill, so at least 2/3 of the TTL remained.
    assert.ok(elapsed >= (ttl * 2) / 3 - 100, `not before the TTL ran out (${elapsed} ms)`);
    assert.ok(elapsed <= ttl + 1500, `soon after it (${elapsed} ms)`);
    assert.equal(rec.events.at(-1)?.type, 'delete');
  });

  it('goodbye: a graceful close is seen on host B after the 1 s grace', async (t) => {
    const { n3: hc, n4: hd } = await hosts();
    const { a, rec } = await pair(t, [hc, hd], 'polite', 120_000);
    const closedAt = Date.now();
    await a.close();
    await rec.until((r) => r.nodeIds('polite').length === 0, 5000, 'delete after the goodbye');
    const elapsed = Date.now() - closedAt;
    assert.ok(elapsed >= 1000, `not before the grace second (${elapsed} ms)`);
    assert.ok(elapsed <= 3000, `well before the 120 s TTL (${elapsed} ms)`);
  });

  it('goodbye: deregistering one registration is seen after the grace; the others stay', async (t) => {
    const { n5: he, n6: hf } = await hosts();
    const { a, rec, reg } = await pair(t, [he, hf], 'partial', 120_000);
    await a.register({ name: 'partial', nodes: [{ id: 'partial-2', address: `${he.address}:9001` }] });
    await rec.until((r) => r.nodeIds('partial').length === 2, 8000, 'second node');
    const at = Date.now();
    await reg.deregister();
    await rec.until((r) => r.nodeIds('partial').length === 1, 5000, 'first node gone');
    assert.ok(Date.now() - at >= 1000);
    assert.deepEqual(rec.nodeIds('partial'), ['partial-2']);
    const last = rec.events.at(-1);
    assert.ok(last?.type === 'update' && last.removed[0]?.id === 'partial-1');
  });
});
