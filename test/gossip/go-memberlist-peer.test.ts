/**
 * A real Go memberlist peer (Debian's memberlist 0.2.2) and our node on 127.0.0.x: it joins us and
 * we join it (push/pull both ways), pings are answered both ways over UDP and over the TCP
 * fallback, with compression on, with a 16-byte key, and a wrong key learns nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Memberlist } from '../../src/adapters/gossip/memberlist.js';
import { Keyring } from '../../src/adapters/gossip/wire/keyring.js';
import { systemClock } from '../../src/internal/clock.js';
import { type Address, type Datagram, formatAddress, type Transport } from '../../src/internal/transport.js';
import { bindNetTransport } from '../../src/internal/transport-net.js';
import { type GoMemberlist, goMemberlistSkip, startGoMemberlist } from '../peers/go-memberlist.js';

const skip = goMemberlistSkip();

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
});

/** Passes everything through except the datagrams `drop` picks (a firewall for one test). */
function withUdpFilter(inner: Transport, drop: (d: Datagram) => boolean): Transport {
  return {
    address: inner.address,
    advertiseAddress: inner.advertiseAddress,
    stats: inner.stats,
    send: (data, to) => inner.send(data, to),
    dial: (to, ms) => inner.dial(to, ms),
    close: () => inner.close(),
    listen: (h) => inner.listen({ datagram: (d) => (drop(d) ? undefined : h.datagram(d)), stream: h.stream }),
  };
}

async function ourNode(name: string, host: string, o: { keys?: Uint8Array[]; dropUdp?: (d: Datagram) => boolean } = {}) {
  const bound = await bindNetTransport({ host, port: 0, clock: systemClock });
  const transport = o.dropUdp ? withUdpFilter(bound, o.dropUdp) : bound;
  const node = new Memberlist({
    transport,
    clock: systemClock,
    layers: { label: new Uint8Array(0), compression: true, keyring: o.keys ? new Keyring(o.keys) : undefined },
    name,
  });
  stops.push(() => node.close());
  return node;
}

async function goPeer(name: string, host: string, o: { join?: Memberlist; keys?: Uint8Array[] } = {}): Promise<GoMemberlist> {
  const join = o.join ? [formatAddress(o.join.address)] : undefined;
  const peer = await startGoMemberlist({ name, bind: host, join, keys: o.keys, compression: true, config: 'local' });
  stops.push(() => peer.stop());
  return peer;
}

/** The peer's address for our transport (its `address` is host:port, `[v6]:port` for IPv6). */
const at = (peer: GoMemberlist): Address => ({ host: peer.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), port: peer.port });

async function goMembers(peer: GoMemberlist): Promise<Array<{ name: string; state: number }>> {
  const reply = await peer.call({ cmd: 'members' });
  return reply.members as Array<{ name: string; state: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Go memberlist peer', { skip }, () => {
  it('the Go peer joins us: push/pull as callee, it probes us and we ping it (UDP and TCP)', async () => {
    const ours = await ourNode('rollcall-1', '127.0.0.21');
    const peer = await goPeer('go-1', '127.0.0.22', { join: ours });
    await peer.waitFor((l) => l.event === 'join' && (l.node as { name: string }).name === 'rollcall-1', 5000, 'join event for us');
    assert.deepEqual(
      ours.members().map((n) => n.name),
      ['go-1'],
    );
    assert.ok(ours.net.stats.pushPulls >= 1);
    // The Go side's probe of us completes: our UDP ack was accepted.
    await peer.waitFor((l) => l.event === 'ping' && l.node === 'rollcall-1', 5000, 'a completed probe of us');
    assert.equal(await ours.ping(at(peer), 'go-1', 1000), true);
    assert.equal(await ours.pingStream(at(peer), 'go-1', 2000), true);
  });

  it('we join the Go peer: push/pull as caller; it keeps us alive', async () => {
    const peer = await goPeer('go-2', '127.0.0.23');
    const ours = await ourNode('rollcall-2', '127.0.0.24');
    assert.equal(await ours.join([at(peer)]), 1);
    assert.deepEqual(
      ours.members().map((n) => n.name),
      ['go-2'],
    );
    await sleep(3000); // three probe intervals of the local profile
    const seen = (await goMembers(peer)).find((m) => m.name === 'rollcall-2');
    assert.equal(seen?.state, 0, 'alive after several probes');
    assert.equal(await ours.ping(at(peer), 'go-2', 1000), true);
  });

  it('UDP blocked: the Go peer falls back to a TCP ping, we answer it and stay alive', async () => {
    const peer = await goPeer('go-3', '127.0.0.25');
    const peerHost = at(peer).host;
    let blocked = 0;
    const ours = await ourNode('rollcall-3', '127.0.0.26', {
      dropUdp: (d) => d.from.host === peerHost && ++blocked > 0,
    });
    assert.equal(await ours.join([at(peer)]), 1);
    await sleep(4000);
    assert.ok(blocked > 0, 'the Go peer sent UDP probes');
    assert.match(peer.stderr, /Was able to connect to rollcall-3 but other probes failed/);
    const seen = (await goMembers(peer)).find((m) => m.name === 'rollcall-3');
    assert.equal(seen?.state, 0, 'still alive thanks to the TCP fallback');
  });

  it('a 16-byte key: the right key joins both ways; a wrong key learns nothing and crashes nothing', async () => {
    const key = randomBytes(16);
    const peer = await goPeer('go-4', '127.0.0.27', { keys: [key] });
    const right = await ourNode('rollcall-4', '127.0.0.28', { keys: [key] });
    assert.equal(await right.join([at(peer)]), 1);
    assert.equal(await right.ping(at(peer), 'go-4', 1000), true);
    assert.equal(await right.pingStream(at(peer), 'go-4', 2000), true);

    const wrong = await ourNode('rollcall-5', '127.0.0.29', { keys: [randomBytes(16)] });
    assert.equal(await wrong.join([at(peer)]), 0);
    assert.equal(await wrong.ping(at(peer), 'go-4', 1000), false);
    const joined = await peer.request({ cmd: 'join', addrs: [`${wrong.address.host}:${wrong.address.port}`] });
    assert.equal(joined.joined, 0);
    assert.deepEqual(wrong.members(), []);
    assert.ok(wrong.net.stats.dropped.decrypt >= 1);
    const names = (await goMembers(peer)).map((m) => m.name).sort();
    assert.deepEqual(names, ['go-4', 'rollcall-4']);
    assert.equal(peer.child.exitCode, null, 'the Go peer is still running');

    // The Go peer joins our keyed node too.
    const peer2 = await goPeer('go-5', '127.0.0.30', { keys: [key], join: right });
    await peer2.waitFor((l) => l.event === 'join' && (l.node as { name: string }).name === 'rollcall-4', 5000, 'join event');
  });

  it('IPv6 (::1): the Go peer joins us, its probes are answered, our pings to it too', async () => {
    const ours = await ourNode('rollcall-6', '::1');
    const peer = await goPeer('go-6', '::1', { join: ours });
    await peer.waitFor((l) => l.event === 'ping' && l.node === 'rollcall-6', 5000, 'a completed probe of us over IPv6');
    const seen = (await goMembers(peer)).find((m) => m.name === 'rollcall-6') as { addr?: string } | undefined;
    assert.equal(seen?.addr, '::1');
    assert.deepEqual(
      ours.members().map((n) => n.name),
      ['go-6'],
    );
    assert.equal(await ours.ping({ host: '::1', port: peer.port }, 'go-6', 1000), true);
    assert.equal(await ours.pingStream({ host: '::1', port: peer.port }, 'go-6', 2000), true);
  });
});
