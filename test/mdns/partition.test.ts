/**
 * A partition and its heal: host A's link goes down (cable pulled, or the interface taken down),
 * host B drops A's node when its TTL runs out, and finds it again soon after the link is back
 * (A notices its interface return, probes and announces again; its heartbeats would too).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan, type LanHost } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason();
const TTL = 3000;

describe('mdns: partition', { timeout: 90_000, skip, concurrency: true }, () => {
  let lan: Lan<'a1' | 'b1' | 'a2' | 'b2'>;
  before(async () => {
    lan = await createLan({ hosts: ['a1', 'b1', 'a2', 'b2'], ipv6: false });
  });
  after(() => lan?.destroy());

  async function scenario(t: import('node:test').TestContext, ha: LanHost, hb: LanHost, mode: 'cable' | 'admin'): Promise<void> {
    const name = `island-${mode}`;
    const [a, b] = await Promise.all(
      [ha, hb].map((h) => spawnRegistry({ options: { kind: 'mdns', interfacePollInterval: 500 }, netns: h.netns })),
    );
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch({ service: name }));
    t.after(() => rec.stop());
    await rec.watcher.synced;
    await a.register({ name, nodes: [{ id: `${name}-1`, address: `${ha.address}:9000` }] }, { ttl: TTL });
    await rec.until((r) => r.nodeIds(name).length === 1, 8000, 'seen before the partition');

    const cutAt = Date.now();
    await ha.linkDown(mode);
    await rec.until((r) => r.nodeIds(name).length === 0, TTL + 3000, 'dropped after the TTL');
    const gone = Date.now() - cutAt;
    assert.ok(gone >= (TTL * 2) / 3 - 100, `not dropped before the TTL ran out (${gone} ms)`);

    const healAt = Date.now();
    await ha.linkUp();
    await rec.until((r) => r.nodeIds(name).length === 1, 8000, 'found again after the heal');
    const back = Date.now() - healAt;
    assert.ok(back < 5000, `found again soon after the heal (${back} ms)`);
    const stats = await a.remoteStats();
    assert.equal(stats.interfaces, 'eth0');
  }

  it('partition: cable pulled on A; B drops A after the TTL and finds it again after the heal', (t) =>
    scenario(t, lan.hosts.a1, lan.hosts.b1, 'cable'));

  it('partition: interface taken down on A (routes flushed); same outcome', (t) => scenario(t, lan.hosts.a2, lan.hosts.b2, 'admin'));
});
