/**
 * Multicast loopback is how other processes on this host hear us, and it hands us back a copy of
 * everything we send. Alone on port 5353 a registry turns it off: nothing of its own comes back.
 * As soon as another socket on the host speaks, or binds the port silently and the next check
 * sees it, loopback is on again, and our own copies are recognised by content and dropped
 * before decoding. Either way the registry knows its own nodes first-hand: at once after
 * register(), gone at once after deregister().
 */
import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { OwnEchoes } from '../../src/adapters/mdns/transport.js';
import { eventually, Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';
import { rawPeer } from './raw-peer.js';

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
/** Short, so the test of a silent listener waits for a check of the port and not for the default 2 s. */
const POLL_MS = 300;
const OPTIONS = { kind: 'mdns', interfacePollInterval: POLL_MS } as const;
/** A check of the port too far off to matter: only hearing the neighbour can turn loopback on. */
const NO_POLL = { kind: 'mdns', interfacePollInterval: 600_000 } as const;

describe('own echoes: on a LAN', { timeout: 60_000, skip }, () => {
  let lan: Lan<'solo' | 'other'>;
  before(async () => {
    lan = await createLan({ hosts: ['solo', 'other'], ipv6: true });
  });
  after(() => lan?.destroy());

  it('alone on its host a registry hears nothing of its own; a neighbour that speaks turns loopback on at once, and both hear each other', async (t) => {
    const { solo } = lan.hosts;
    const a = await spawnRegistry({ options: NO_POLL, netns: solo.netns });
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
    // Queries, probes and announcements on IPv4 and IPv6, and not one copy back: the kernel loops none.
    await eventually(async () => Number((await a.remoteStats()).packetsSent) >= 8, 10_000, 'probes and announcements sent');
    let stats = await a.remoteStats();
    assert.equal(stats.sharedPort, 0, 'alone on port 5353');
    assert.equal(stats.multicastLoopback, 0, 'loopback off while alone');
    assert.equal(stats.ownEchoes, 0, 'no copy of ours came back');
    assert.equal(stats.packetsReceived, 0, 'nothing reached the decoder');

    // A second process on the same host: it probes and asks as it starts, so we hear it at once,
    // long before a's next look at /proc.
    const b = await spawnRegistry({ options: OPTIONS, netns: solo.netns });
    t.after(() => b.kill());
    await b.register({ name: 'neighbour', nodes: [{ id: 'n-1', address: `${solo.address}:7101` }] });
    await rec.until((r) => r.nodeIds('neighbour').length === 1, 5000, 'the neighbour seen by a');
    await eventually(async () => (await b.getService('self-seen').catch(() => [])).length === 1, 5000, 'a seen by the neighbour');
    stats = await a.remoteStats();
    assert.equal(stats.multicastLoopback, 1, 'loopback on with a neighbour on the port');
    assert.equal(stats.sharedPort, 1);
    // From now on our copies come back, and are dropped undecoded: a's updates reach b, and a only.
    const watchB = new Recorder(b.watch());
    t.after(() => watchB.stop());
    await watchB.watcher.synced;
    const echoesBefore = Number(stats.ownEchoes);
    await a.register({ ...service, metadata: { round: '2' } });
    await watchB.until(
      (r) => [...r.state.values()].some((s) => s.name === 'self-seen' && s.metadata.round === '2'),
      5000,
      "a's update heard next door",
    );
    await eventually(async () => Number((await a.remoteStats()).ownEchoes) > echoesBefore, 5000, 'own copies recognised and dropped');
    const seen = await a.getService('self-seen', { timeout: 1 });
    assert.deepEqual(
      seen.flatMap((s) => s.nodes.map((n) => n.id)),
      ['self-1'],
      'our own node once, first-hand',
    );

    // Gone from our own view at once (the 1 s goodbye grace is for what we heard, not what we know).
    await a.deregister(service);
    assert.deepEqual(await a.getService('self-seen', { timeout: 1 }).catch(() => []), []);
  });

  it('a listener that binds port 5353 and never sends hears our next announcement once the port is checked; gone, loopback is off again', async (t) => {
    const { solo } = lan.hosts;
    const a = await spawnRegistry({ options: OPTIONS, netns: solo.netns });
    t.after(() => a.kill());
    const service = { name: 'quiet', nodes: [{ id: 'quiet-1', address: `${solo.address}:7200` }] };
    await a.register(service);
    assert.equal((await a.remoteStats()).multicastLoopback, 0, 'alone: loopback off');
    const listener = await rawPeer(solo, { mode: 'listen', listen: solo.address, instance: 'quiet-1._rollcall._tcp.local' });
    // Killed with the LAN when the test fails first: that exit is no second failure.
    listener.done.catch(() => {});
    await eventually(async () => (await a.remoteStats()).multicastLoopback === 1, POLL_MS * 10, 'the silent listener seen in /proc');
    await a.register({ ...service, metadata: { round: '2' } });
    assert.match(await listener.done, /"ev":"heard"/, 'the update reached the listener on our host');
    // Alone again (the listener has closed its socket): the next check turns loopback off.
    await eventually(async () => (await a.remoteStats()).multicastLoopback === 0, POLL_MS * 10, 'loopback off once the listener has gone');
  });

  it('a dual-stack socket on [::]:5353 counts as a neighbour even for a registry without IPv6', async (t) => {
    const { solo } = lan.hosts;
    const a = await spawnRegistry({ options: { ...OPTIONS, ipv6: false }, netns: solo.netns });
    t.after(() => a.kill());
    await eventually(async () => (await a.remoteStats()).multicastLoopback === 0, POLL_MS * 10, 'alone: loopback off');
    // It hears IPv4 multicast, lists only in /proc/net/udp6, and never sends.
    const holder = await rawPeer(solo, { mode: 'hold-dual-stack' });
    holder.done.catch(() => {});
    await eventually(
      async () => (await a.remoteStats()).multicastLoopback === 1,
      POLL_MS * 10,
      'the dual-stack socket seen in /proc/net/udp6',
    );
  });
});
