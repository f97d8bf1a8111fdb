/**
 * 30 % UDP loss on the browsing host (nftables `numgen random` inside its namespace): discovery
 * still converges, and records being refreshed are never dropped by mistake. With a short TTL a
 * node has about six chances per TTL to be refreshed there (two heartbeat announcements, four
 * refresh queries answered by unicast, the last one also as a legacy query), so a false delete
 * needs six losses in a row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason(['nft']);
const TTL = 6000;
const OBSERVE_MS = 14_000;

describe('mdns: packet loss', { timeout: 120_000, skip }, () => {
  let lan: Lan<'steady' | 'lossy'>;
  before(async () => {
    lan = await createLan({ hosts: ['steady', 'lossy'], ipv6: false });
  });
  after(() => lan?.destroy());

  it('loss: with 30 % of UDP dropped on arrival, discovery converges and no live node is deleted', async (t) => {
    const { steady, lossy } = lan.hosts;
    await lossy.addUdpLoss(30, { direction: 'in' });
    const [a, b] = await Promise.all([steady, lossy].map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const names = ['lossy-1', 'lossy-2', 'lossy-3'];
    await Promise.all(
      names.map((name, i) => a.register({ name, nodes: [{ id: `${name}-n`, address: `${steady.address}:${7000 + i}` }] }, { ttl: TTL })),
    );
    await rec.until((r) => names.every((n) => r.nodeIds(n).length === 1), 20_000, 'every service seen despite the loss');
    const deletesBefore = rec.events.filter((e) => e.type === 'delete').length;

    await new Promise((r) => setTimeout(r, OBSERVE_MS));
    const deletes = rec.events.filter((e) => e.type === 'delete').slice(deletesBefore);
    assert.deepEqual(
      deletes.map((e) => (e.type === 'resync' ? 'resync' : e.service.name)),
      [],
      'no false delete while refreshing',
    );
    for (const n of names) assert.equal(rec.nodeIds(n).length, 1);

    // New work still converges under loss: a registration, and a cold lookup from a fresh process.
    await a.register({ name: 'lossy-late', nodes: [{ id: 'late-n', address: `${steady.address}:7100` }] }, { ttl: TTL });
    await rec.until((r) => r.nodeIds('lossy-late').length === 1, 15_000, 'a later registration');
    const cold = await spawnRegistry({ options: { kind: 'mdns' }, netns: lossy.netns });
    t.after(() => cold.kill());
    await eventually(async () => (await cold.getService('lossy-2').catch(() => [])).length === 1, 15_000, 'a cold lookup under loss', 100);
    const stats = await b.remoteStats();
    assert.ok(Number(stats.queriesSent) > 0);
  });
});
