/**
 * Node addresses as another host sees them: wildcard addresses become the publishing host's real
 * address on the link (IPv4 and IPv6), link-local IPv6 addresses carry the reader's zone, DNS names
 * pass through; and a node too large for one packet is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isRollcallError } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason();

describe('mdns: addresses', { timeout: 60_000, skip }, () => {
  let lan: Lan<'pub' | 'sub'>;
  before(async () => {
    lan = await createLan({ hosts: ['pub', 'sub'], ipv6: true });
  });
  after(() => lan?.destroy());

  it('addresses: wildcards expand to the host address, IPv6 link-local gets the reader zone, names pass through', async (t) => {
    const { pub, sub } = lan.hosts;
    assert.ok(pub.address6, 'the LAN has IPv6 link-local addresses');
    const [a, b] = await Promise.all([pub, sub].map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const cases: Array<[string, string, string]> = [
      ['wild4', '0.0.0.0:8080', `${pub.address}:8080`],
      ['wild6', '[::]:8081', `[${pub.address6}%eth0]:8081`],
      ['ll6', `[${pub.address6}%eth0]:8082`, `[${pub.address6}%eth0]:8082`],
      ['named', 'api.example.com:443', 'api.example.com:443'],
    ];
    const regs = await Promise.all(cases.map(([name, address]) => a.register({ name, nodes: [{ id: `${name}-1`, address }] })));
    // The registration keeps what was registered; only the wire carries the real address.
    assert.equal(regs[0]?.service.nodes[0]?.address, '0.0.0.0:8080');
    await rec.until((r) => cases.every(([name]) => r.nodeIds(name).length === 1), 10_000, 'all four nodes');
    for (const [name, , expected] of cases) {
      const [service] = [...rec.state.values()].filter((s) => s.name === name);
      assert.equal(service?.nodes[0]?.address, expected, name);
    }
  });

  it('limits: a node that cannot fit one mDNS packet is refused up front, naming the budget, and never published', async (t) => {
    const { pub, sub } = lan.hosts;
    const [a, b] = await Promise.all([pub, sub].map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const metadata = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`key-${i}`, 'v'.repeat(400)]));
    await assert.rejects(
      a.register({ name: 'obese', nodes: [{ id: 'obese-1', address: `${pub.address}:1`, metadata }] }),
      (e) => isRollcallError(e, 'TOO_LARGE') && /bytes/.test((e as Error).message) && /1400 bytes/.test((e as Error).message),
    );
    // Go Micro names: a label over 63 bytes.
    const goMicro = await spawnRegistry({ options: { kind: 'mdns', profile: 'go-micro' }, netns: pub.netns });
    t.after(() => goMicro.kill());
    await assert.rejects(
      goMicro.register({ name: 'svc', nodes: [{ id: 'x'.repeat(64), address: `${pub.address}:1` }] }),
      (e) => isRollcallError(e, 'TOO_LARGE') && /63 bytes/.test((e as Error).message),
    );
    assert.equal((await a.remoteStats()).publications, 0);
    await assert.rejects(b.getService('obese', { timeout: 1000 }), (e) => isRollcallError(e, 'NOT_FOUND'));
  });
});
