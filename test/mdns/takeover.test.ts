/**
 * A rolling restart on one LAN host: a new process registers the node id an old process on the
 * same host still publishes, at a new address. That is a takeover, not a name conflict: the new
 * registration keeps the instance name (no `api-1 (2)`), the old one stops publishing without a
 * goodbye, and observers on other hosts, old and new, show the node once, at the new address,
 * during the overlap and after the old process closes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRename, Service } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, requireLan } from '../peers/lan.js';

const addressesOf = (services: readonly Service[], id: string) =>
  services.flatMap((s) => s.nodes.filter((n) => n.id === id).map((n) => n.address));

describe('mdns: rolling restart on one host', { timeout: 120_000 }, () => {
  it('takeover: the same node id registered again on the same host moves to the new address without a rename', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['h', 'o'], ipv6: false });
    t.after(() => lan.destroy());
    const { h, o } = lan.hosts;
    const spawn = (host: typeof h) => spawnRegistry({ options: { kind: 'mdns' }, netns: host.netns });
    const [old, successor, observer] = await Promise.all([spawn(h), spawn(h), spawn(o)]);
    t.after(() => Promise.allSettled([old.kill(), successor.kill(), observer.kill()]));
    const before = `${h.address}:7801`;
    const after = `${h.address}:7802`;
    const service = (address: string) => ({ name: 'api', version: '1.0.0', nodes: [{ id: 'api-1', address }] });
    const rec = new Recorder(observer.watch({ service: 'api' }));
    t.after(() => rec.stop());
    await rec.watcher.synced;
    await old.register(service(before), { ttl: 6000 });
    await rec.until((r) => addressesOf([...r.state.values()], 'api-1').join() === before, 8000, 'the node at its first address');

    const renames: NodeRename[] = [];
    const reg = await successor.register(service(after), { ttl: 6000 });
    reg.on('renamed', (r) => renames.push(r));
    await rec.until((r) => addressesOf([...r.state.values()], 'api-1').join() === after, 8000, 'the node at its new address');
    // Past the new registration's announcing step and one heartbeat of the old one (ttl / 3).
    await new Promise((r) => setTimeout(r, 3500));
    const [oldStats, newStats] = await Promise.all([old.remoteStats(), successor.remoteStats()]);
    assert.equal(newStats.renames, 0, 'the new registration kept the name');
    assert.deepEqual(renames, []);
    assert.equal(oldStats.takenOver, 1, 'the old registration gave the node up');
    assert.deepEqual(addressesOf(await observer.getService('api'), 'api-1'), [after], 'during the overlap');
    // An observer that starts now hears only the new holder.
    const late = await spawn(o);
    t.after(() => late.kill());
    assert.deepEqual(addressesOf(await late.getService('api'), 'api-1'), [after], 'a new observer during the overlap');
    assert.deepEqual(addressesOf(await old.getService('api'), 'api-1'), [after], "the old process's own view follows the new holder");

    const closing = rec.events.length;
    await old.close();
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(
      rec.events.slice(closing).filter((e) => e.type === 'delete'),
      [],
      'the old process closing removed nothing',
    );
    assert.deepEqual(addressesOf(await observer.getService('api'), 'api-1'), [after], 'after the old process closed');
  });
});
