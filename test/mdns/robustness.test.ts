/**
 * Hostile and broken input on a real LAN: undecodable datagrams, garbage and oversize TXT, an
 * off-link host spoofing a goodbye, and a query flood are dropped and counted in stats(), never
 * thrown, and discovery goes on. A host with no usable interface is told so.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isRollcallError } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, requireLan } from '../peers/lan.js';
import { announcement, rawPeer } from './raw-peer.js';

const node = (name: string, id: string, address: string) => ({
  name,
  version: '1.0.0',
  nodes: [{ id, address, metadata: { protocol: 'http' } }],
});

describe('mdns robustness', { timeout: 120_000 }, () => {
  it('robustness: garbage, oversize, off-link and flooding input is dropped and counted; discovery goes on', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b', 'x'], ipv6: false });
    t.after(() => lan.destroy());
    const { a: ha, b: hb, x: hx } = lan.hosts;
    const [a, b] = await Promise.all([
      spawnRegistry({ options: { kind: 'mdns' }, netns: ha.netns }),
      spawnRegistry({ options: { kind: 'mdns' }, netns: hb.netns }),
    ]);
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    await a.register(node('greeter', 'greeter-1', `${ha.address}:8080`), { ttl: 30_000 });
    await rec.until((r) => r.nodeIds('greeter').length === 1, 8000, 'greeter seen');
    const [beforeA, beforeB] = await Promise.all([a.remoteStats(), b.remoteStats()]);

    // An off-link address on x: packets from it must be refused (RFC 6762 §11).
    assert.equal((await hx.run('ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'eth0'])).code, 0);
    const garbage = Array.from({ length: 20 }, () => randomBytes(1 + Math.floor(Math.random() * 300)).toString('hex'));
    const badTxt = announcement('bad', 'bad-host.local', hx.address, 1, ['txtvers=1', Buffer.from([0xff, 0xfe, 0x3d, 0x00])]);
    const hugeMetadata = announcement('huge', 'huge-host.local', hx.address, 1, [
      'txtvers=1',
      'name=huge',
      'id=huge-1',
      ...keyParts('n.big', 'v'.repeat(900)),
    ]);
    const oversize = Buffer.alloc(9500, 0).toString('hex');
    const offLink = announcement('offlink', 'offlink-host.local', '10.99.0.1', 1, ['txtvers=1', 'name=offlink', 'id=offlink-1']);
    const flood = floodQuery();
    const spoof = await rawPeer(hx, {
      mode: 'replay-goodbye',
      bind: '10.99.0.1',
      listen: hx.address,
      instance: 'greeter-1._rollcall._tcp.local',
    });
    // A heartbeat (every ttl/3) or a re-registration makes a announce again: re-register to trigger it now.
    await a.register(node('greeter', 'greeter-1', `${ha.address}:8080`), { ttl: 30_000 });
    await spoof.done;
    const peers = [
      await rawPeer(hx, { mode: 'send', bind: hx.address, packets: [...garbage, badTxt, hugeMetadata, oversize] }),
      await rawPeer(hx, { mode: 'send', bind: '10.99.0.1', packets: [offLink] }),
      // 2000 queries in about 2 s: 1000 a second, five times what a source may ask.
      await rawPeer(hx, {
        mode: 'send',
        bind: hx.address,
        port: 5353,
        packets: Array.from({ length: 10 }, () => flood),
        repeat: 200,
        intervalMs: 10,
      }),
    ];
    await Promise.all(peers.map((p) => p.done));
    await new Promise((r) => setTimeout(r, 1500));

    const [afterA, afterB] = await Promise.all([a.remoteStats(), b.remoteStats()]);
    const droppedB = afterB.dropped - beforeB.dropped;
    // 20 garbage + bad TXT + huge metadata + oversize + off-link announcement + spoofed goodbye + the flood beyond 400 + 200/s.
    assert.ok(droppedB >= 25 + 800, `b dropped ${droppedB}`);
    assert.ok(
      afterA.dropped - beforeA.dropped >= 800,
      `the responder is flood-protected too (a dropped ${afterA.dropped - beforeA.dropped}, b ${droppedB})`,
    );
    assert.equal(afterB.backendErrors, 0, 'nothing was thrown');
    assert.ok(
      Number(afterA.responsesSent) - Number(beforeA.responsesSent) < 20,
      `the flood did not turn into a flood of answers (${Number(afterA.responsesSent) - Number(beforeA.responsesSent)} responses)`,
    );
    assert.deepEqual(rec.nodeIds('greeter'), ['greeter-1'], 'the spoofed off-link goodbye removed nothing');
    for (const name of ['bad', 'huge', 'offlink']) {
      await assert.rejects(b.getService(name, { timeout: 1000 }), (e) => isRollcallError(e, 'NOT_FOUND'), name);
    }
    // And discovery still works.
    await a.register(node('after', 'after-1', `${ha.address}:8081`));
    await rec.until((r) => r.nodeIds('after').length === 1, 8000, 'a registration after the attack');
  });

  it('no interface: a host whose only LAN interface is down gets UNSUPPORTED saying what to do', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['lonely'], ipv6: false });
    t.after(() => lan.destroy());
    await lan.hosts.lonely.linkDown('admin');
    await assert.rejects(spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.lonely.netns }), (e) => {
      assert.ok(isRollcallError(e, 'UNSUPPORTED'), String(e));
      assert.match((e as Error).message, /no multicast-capable network interface/);
      assert.match((e as Error).message, /Docker/);
      assert.match((e as Error).message, /WSL2/);
      return true;
    });
  });
});

/** `key=value` split the way rollcall continues long values (key, key+1, ...). */
function keyParts(key: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0, part = 0; i < value.length; part++) {
    const head = part === 0 ? `${key}=` : `${key}+${part}=`;
    const room = 255 - head.length;
    out.push(head + value.slice(i, i + room));
    i += room;
  }
  return out;
}

/** A query for every rollcall service: the most expensive question a flood could ask. */
function floodQuery(): string {
  // id 0, flags 0, 1 question: _rollcall._tcp.local PTR IN
  const name = Buffer.concat(['_rollcall', '_tcp', 'local'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 0, 12, 0, 1])]).toString('hex');
}
