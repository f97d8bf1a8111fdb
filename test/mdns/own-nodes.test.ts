/**
 * A registry's own nodes are first-hand knowledge, on a real LAN:
 *
 * - a forged announcement for one of our instance names (cache-flush bit set, our TXT, a foreign
 *   address) never reaches our own view, not even for a moment;
 * - a node id registered on two hosts: each host's own view shows its own node, and the host whose
 *   name lost is told (a `renamed` event, a warning, `stats().renames`), not renamed silently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRename, Service } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, requireLan } from '../peers/lan.js';
import { announcement, rawPeer } from './raw-peer.js';

const addressesOf = (r: Recorder, id: string) =>
  r.events.flatMap((e) => (e.type === 'resync' ? [] : e.service.nodes.filter((n) => n.id === id).map((n) => n.address)));
const nodeAddresses = (services: readonly Service[], id: string) =>
  services.flatMap((s) => s.nodes.filter((n) => n.id === id).map((n) => n.address));

describe('mdns: own nodes', { timeout: 120_000 }, () => {
  it('own nodes: a forged announcement for our instance name never shows its address in our own view', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'x'], ipv6: false });
    t.after(() => lan.destroy());
    const { a: ha, x: hx } = lan.hosts;
    const a = await spawnRegistry({ options: { kind: 'mdns' }, netns: ha.netns });
    t.after(() => a.kill());
    const rec = new Recorder(a.watch({ service: 'api' }));
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const ours = `${ha.address}:8080`;
    await a.register({ name: 'api', version: '1.0.0', nodes: [{ id: 'api-1', address: ours }] }, { ttl: 30_000 });
    await rec.until((r) => addressesOf(r, 'api-1').includes(ours), 5000, 'our node in our view');
    const before = await a.remoteStats();
    // Our own TXT, a foreign host and address, flush bits set: what a conflicting (or malicious) responder sends.
    const forged = announcement('api-1', 'evil.local', hx.address, 6666, ['txtvers=1', 'name=api', 'version=1.0.0', 'id=api-1']);
    const peer = await rawPeer(hx, { mode: 'send', bind: hx.address, port: 5353, packets: [forged], repeat: 5, intervalMs: 300 });
    await peer.done;
    await new Promise((r) => setTimeout(r, 1500));
    const after = await a.remoteStats();
    assert.ok(Number(after.conflicts) > Number(before.conflicts), 'the forged records were heard (a conflict)');
    assert.deepEqual([...new Set(addressesOf(rec, 'api-1'))], [ours], 'our own watcher never showed the foreign address');
    assert.deepEqual(nodeAddresses(await a.getService('api'), 'api-1'), [ours], 'getService shows our own address');
  });

  it('own nodes: a node id registered on two hosts: each shows its own, and the renamed one is told', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b'], ipv6: false });
    t.after(() => lan.destroy());
    const { a: ha, b: hb } = lan.hosts;
    const [a, b] = await Promise.all([
      spawnRegistry({ options: { kind: 'mdns' }, netns: ha.netns }),
      spawnRegistry({ options: { kind: 'mdns' }, netns: hb.netns }),
    ]);
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const atA = `${ha.address}:8080`;
    const atB = `${hb.address}:8080`;
    const service = (address: string) => ({ name: 'twin', version: '1.0.0', nodes: [{ id: 'twin-1', address }] });
    await a.register(service(atA), { ttl: 30_000 });
    const renames: NodeRename[] = [];
    const regB = await b.register(service(atB), { ttl: 30_000 });
    regB.on('renamed', (r) => renames.push(r));
    // a hears b's announcements (1 s apart) as they come.
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(nodeAddresses(await a.getService('twin'), 'twin-1'), [atA], "a's own getService shows a's node");
    assert.deepEqual(nodeAddresses(await b.getService('twin'), 'twin-1'), [atB], "b's own getService shows b's node");
    const statsB = await b.remoteStats();
    assert.equal(statsB.renames, 1, "b's stats count the rename");
    assert.deepEqual(
      renames,
      [{ nodeId: 'twin-1', from: 'twin-1._rollcall._tcp.local', to: 'twin-1 (2)._rollcall._tcp.local' }],
      "b's registration was told of the rename",
    );
  });
});
