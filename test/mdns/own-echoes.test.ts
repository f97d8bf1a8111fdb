/**
 * Our own multicasts come back through loopback (it stays on: other processes on the host hear
 * us only through it). They are recognised by content and dropped before decoding, and the
 * registry knows its own nodes first-hand instead: at once after register(), gone at once after
 * deregister(). Another process on the same host still hears everything we send.
 */
import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { OwnEchoes } from '../../src/adapters/mdns/transport.js';
import { eventually, Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const rinfo = (address: string, port: number, size: number): RemoteInfo => ({
  address,
  port,
  size,
  family: address.includes(':') ? 'IPv6' : 'IPv4',
});

describe('own echoes: recognition', () => {
  it('takes one copy per send: same bytes, from the sending address and port; anything else is a peer', () => {
    let now = 0;
    const echoes = new OwnEchoes(() => now);
    const packet = Buffer.from('an announcement');
    echoes.sent(packet, 5353, '10.0.0.1');
    assert.equal(echoes.isEcho(Buffer.from('an announcement'), rinfo('10.0.0.2', 5353, packet.length)), false, 'another address');
    assert.equal(echoes.isEcho(Buffer.from('an announcement'), rinfo('10.0.0.1', 40000, packet.length)), false, 'another port');
    assert.equal(echoes.isEcho(Buffer.from('an announcemenT'), rinfo('10.0.0.1', 5353, packet.length)), false, 'other bytes');
    assert.equal(echoes.isEcho(Buffer.from('an announcement'), rinfo('10.0.0.1', 5353, packet.length)), true, 'the echo');
    assert.equal(echoes.isEcho(Buffer.from('an announcement'), rinfo('10.0.0.1', 5353, packet.length)), false, 'a second copy is real');
    assert.equal(echoes.dropped, 1);
    // Two identical sends (two interfaces) expect two copies.
    echoes.sent(packet, 5353, '10.0.0.1');
    echoes.sent(packet, 5353, '10.0.0.1');
    assert.equal(echoes.isEcho(packet, rinfo('10.0.0.1', 5353, packet.length)), true);
    assert.equal(echoes.isEcho(packet, rinfo('10.0.0.1', 5353, packet.length)), true);
    // A copy that never came is not waited for forever.
    echoes.sent(packet, 5353, '10.0.0.1');
    now += 2001;
    assert.equal(echoes.isEcho(packet, rinfo('10.0.0.1', 5353, packet.length)), false, 'too late to be our echo');
  });

  it('matches an IPv6 link-local source with its zone', () => {
    const echoes = new OwnEchoes(() => 0);
    const packet = Buffer.from([1, 2, 3]);
    echoes.sent(packet, 5353, 'fe80::1:2');
    assert.equal(echoes.isEcho(packet, rinfo('fe80::1:3%eth0', 5353, 3)), false);
    assert.equal(echoes.isEcho(packet, rinfo('FE80::1:2%eth0', 5353, 3)), true);
  });
});

const skip = lanSkipReason();

describe('own echoes: on a LAN', { timeout: 60_000, skip }, () => {
  let lan: Lan<'solo' | 'other'>;
  before(async () => {
    lan = await createLan({ hosts: ['solo', 'other'], ipv6: true });
  });
  after(() => lan?.destroy());

  it('a registry drops every echo of its own, knows its nodes first-hand, and a neighbour process still hears it', async (t) => {
    const { solo } = lan.hosts;
    const a = await spawnRegistry({ options: { kind: 'mdns' }, netns: solo.netns });
    t.after(() => a.kill());
    const rec = new Recorder(a.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const service = { name: 'self-seen', nodes: [{ id: 'self-1', address: `${solo.address}:7100` }] };
    await a.register(service);
    // Known first-hand the moment register() resolves, not when an echo comes back.
    assert.deepEqual(
      (await a.getService('self-seen', { timeout: 1 })).flatMap((s) => s.nodes.map((n) => n.id)),
      ['self-1'],
    );
    await rec.until((r) => r.nodeIds('self-seen').length === 1, 1000, 'own node in own watch');
    // Probes and three announcements, on IPv4 and IPv6: every one came back and was dropped undecoded.
    await eventually(
      async () => {
        const s = await a.remoteStats();
        return Number(s.packetsSent) >= 8 && s.ownEchoes === s.packetsSent;
      },
      10_000,
      'every multicast of ours came back once and was recognised',
    );
    const stats = await a.remoteStats();
    assert.equal(stats.packetsReceived, 0, 'nothing of ours reached the decoder');

    // A second process on the same host shares port 5353: it hears us, and we hear it.
    const b = await spawnRegistry({ options: { kind: 'mdns' }, netns: solo.netns });
    t.after(() => b.kill());
    await b.register({ name: 'neighbour', nodes: [{ id: 'n-1', address: `${solo.address}:7101` }] });
    await rec.until((r) => r.nodeIds('neighbour').length === 1, 5000, 'the neighbour seen by a');
    await eventually(async () => (await b.getService('self-seen').catch(() => [])).length === 1, 5000, 'a seen by the neighbour');

    // Gone from our own view at once (the 1 s goodbye grace is for what we heard, not what we know).
    await a.deregister(service);
    assert.deepEqual(await a.getService('self-seen', { timeout: 1 }).catch(() => []), []);
  });
});
