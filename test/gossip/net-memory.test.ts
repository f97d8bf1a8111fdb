import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Memberlist } from '../../src/adapters/gossip/memberlist.js';
import { Net } from '../../src/adapters/gossip/net.js';
import { ipToBytes } from '../../src/adapters/gossip/net-address.js';
import { totalDropped } from '../../src/adapters/gossip/net-stats.js';
import { encodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import { labelBytes } from '../../src/adapters/gossip/wire/label.js';
import type { WireLayers } from '../../src/adapters/gossip/wire/layers.js';
import {
  encodeAlive,
  encodePing,
  encodePushPull,
  encodeUserPacket,
  encodeUserStream,
  MessageType,
} from '../../src/adapters/gossip/wire/messages.js';
import { isRollcallError } from '../../src/errors.js';
import { MemoryNetwork } from '../../src/internal/memory-network.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';
import type { Address, Stream } from '../../src/internal/transport.js';

/** Plain layers (no key, no compression) with an optional label. */
function layers(label = ''): WireLayers {
  return { label: labelBytes(label), compression: false };
}

function cluster(options: { latency?: number; loss?: number; label?: string } = {}) {
  const clock = new SimulatedClock();
  const network = new MemoryNetwork({ clock, latency: options.latency ?? 2, loss: options.loss ?? 0, seed: 3 });
  const node = (name: string, extra: { maxPendingStreams?: number } = {}) => {
    const m = new Memberlist({
      transport: network.createTransport(),
      clock,
      layers: layers(options.label),
      name,
      streamTimeout: 1000,
    });
    Object.assign(m, extra);
    return m;
  };
  return { clock, network, node };
}

/** Runs the clock until `work` settles (or `ms` pass), then hands back its outcome. */
async function settle<T>(clock: SimulatedClock, work: Promise<T>, ms = 5000): Promise<T> {
  let done = false;
  const outcome = work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  void outcome.then(() => {
    done = true;
  });
  await clock.runUntil(() => done, ms);
  const result = await outcome;
  if (!result.ok) throw result.error;
  return result.value;
}

const names = (m: Memberlist) =>
  m
    .members()
    .map((n) => n.name)
    .sort();

/** A raw client on the network: dials `to` and lets the test write exactly the bytes it wants. */
async function rawStreamTo(network: MemoryNetwork, clock: SimulatedClock, to: Address): Promise<Stream> {
  const transport = network.createTransport();
  transport.listen({ datagram: () => {}, stream: (s) => s.destroy() });
  return settle(clock, transport.dial(to, 1000));
}

const rawStream = (network: MemoryNetwork, clock: SimulatedClock, to: Memberlist) => rawStreamTo(network, clock, to.address);

async function readAll(clock: SimulatedClock, stream: Stream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reading = (async () => {
    try {
      for (let c = await stream.read(); c; c = await stream.read()) parts.push(c);
    } catch {
      // reset by the peer: what arrived so far is the answer
    }
  })();
  await settle(clock, reading);
  return Buffer.concat(parts);
}

function alive(name: string, incarnation = 1) {
  return {
    name,
    addr: ipToBytes('10.9.0.1'),
    port: 7946,
    meta: new Uint8Array(0),
    incarnation,
    state: 0,
    vsn: Uint8Array.from([1, 5, 2, 0, 0, 0]),
  };
}

describe('gossip net on the in-memory network', () => {
  it('push/pull join: both sides learn each other, a third node learns both through one', async () => {
    const { clock, node } = cluster();
    const a = node('a');
    const b = node('b');
    const c = node('c');
    assert.equal(await settle(clock, a.join([b.address])), 1);
    assert.deepEqual(names(a), ['b']);
    assert.deepEqual(names(b), ['a']);
    assert.equal(await settle(clock, c.join([a.address])), 1);
    assert.deepEqual(names(c), ['a', 'b']);
    assert.equal(a.net.stats.pushPulls, 2);
    assert.equal(totalDropped(a.net.stats) + totalDropped(b.net.stats) + totalDropped(c.net.stats), 0);
  });

  it('pings: UDP and the TCP fallback are answered both ways; a ping naming another node is not', async () => {
    const { clock, node } = cluster({ latency: 5 });
    const a = node('a');
    const b = node('b');
    assert.equal(await settle(clock, a.ping(b.address, 'b', 100)), true);
    assert.equal(await settle(clock, b.ping(a.address, 'a', 100)), true);
    assert.equal(await settle(clock, a.pingStream(b.address, 'b')), true);
    assert.equal(await settle(clock, b.pingStream(a.address, 'a')), true);
    assert.equal(await settle(clock, a.ping(b.address, 'someone-else', 100)), false);
    assert.equal(b.net.stats.dropped.unexpected, 1);
    assert.equal(await settle(clock, a.pingStream(b.address, 'someone-else')), false);
    assert.equal(b.net.stats.dropped.unexpected, 2);
  });

  it('partition: a join across it times out, a ping goes unanswered; after healing both work', async () => {
    const { clock, network, node } = cluster();
    const a = node('a');
    const b = node('b');
    network.partition([a.address], [b.address]);
    await assert.rejects(settle(clock, a.net.pushPull(b.address, true)), (e) => isRollcallError(e, 'TIMEOUT'));
    assert.equal(await settle(clock, a.ping(b.address, 'b', 200)), false);
    assert.equal(await settle(clock, a.pingStream(b.address, 'b', 300)), false);
    network.heal();
    assert.equal(await settle(clock, a.join([b.address])), 1);
    assert.equal(await settle(clock, a.ping(b.address, 'b', 200)), true);
  });

  it('labels: a packet or stream with another label is dropped and counted, the same label works', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 1 });
    const make = (name: string, label: string) =>
      new Memberlist({ transport: network.createTransport(), clock, layers: layers(label), name, streamTimeout: 1000 });
    const a = make('a', 'blue');
    const b = make('b', 'blue');
    const c = make('c', 'green');
    assert.equal(await settle(clock, a.join([b.address])), 1);
    assert.equal(await settle(clock, c.join([a.address])), 0);
    assert.equal(await settle(clock, c.ping(a.address, 'a', 100)), false);
    assert.equal(a.net.stats.dropped.label, 2);
    assert.deepEqual(names(a), ['b']);
  });

  it('bad packets: each is dropped under its reason; a compound keeps its good parts', async () => {
    const { clock, network, node } = cluster();
    const a = node('a');
    const sender = network.createTransport();
    sender.listen({ datagram: () => {}, stream: (s) => s.destroy() });
    const send = async (bytes: number[] | Uint8Array) => {
      await sender.send(Uint8Array.from(bytes), a.address);
      await clock.runFor(5);
    };
    const d = a.net.stats.dropped;
    await send([]);
    assert.equal(d.truncated, 1);
    await send([MessageType.ping, 0xc1]);
    assert.equal(d.malformed, 1);
    await send([99, 1, 2, 3]);
    assert.equal(d.unsupported, 1);
    await send([MessageType.hasCrc, 0, 0, 0, 0, MessageType.ping, 0x80]);
    assert.equal(d.checksum, 1);
    await send([MessageType.label, 200, 1]);
    assert.equal(d.truncated, 2);
    await send(new Uint8Array(70_000));
    assert.equal(d.limit, 1);
    // Compound: a good alive, a garbage part, a second good alive; then a length table promising more.
    const good1 = encodeAlive({ ...alive('x'), node: 'x' });
    const good2 = encodeAlive({ ...alive('y'), node: 'y' });
    await send(encodeCompound([good1, Uint8Array.from([MessageType.alive, 0xc1]), good2]));
    assert.deepEqual(names(a), ['x', 'y']);
    assert.equal(d.malformed, 2);
    const cut = encodeCompound([good1, good2]).subarray(0, 10);
    await send(cut);
    assert.equal(d.truncated, 4, 'both parts cut off are counted');
    // Nesting beyond the limit is refused, not recursed into.
    let nested: Uint8Array = encodePing({ seqNo: 1, node: 'a' });
    for (let i = 0; i < 10; i++) nested = encodeCompound([nested]);
    await send(nested);
    assert.equal(d.limit, 2);
    assert.equal(a.net.stats.packetsReceived, 9);
  });

  it('streams: a push/pull that arrives one byte at a time is parsed as it comes', async () => {
    const { clock, network, node } = cluster();
    const a = node('a');
    const stream = await rawStream(network, clock, a);
    const request = encodePushPull({ join: true, nodes: [alive('slow')], userState: Uint8Array.from([1, 2, 3]) });
    for (const byte of request) {
      await stream.write(Uint8Array.of(byte));
      await clock.runFor(1);
    }
    const answer = await readAll(clock, stream);
    assert.equal(answer[0], MessageType.pushPull);
    assert.ok(answer.includes(Buffer.from('a')), 'the answer carries our node');
    assert.deepEqual(names(a), ['slow']);
  });

  it('streams: claims larger than what follows cost nothing; claims over the limits are refused with an error reply', async () => {
    const { clock, network, node } = cluster();
    const a = node('a');
    const d = a.net.stats.dropped;
    // A header claiming a million nodes, then silence: no allocation for the claim, cut at the timeout.
    const liar = await rawStream(network, clock, a);
    await liar.write(
      Uint8Array.from([
        MessageType.pushPull,
        0x83,
        0xa4,
        ...Buffer.from('Join'),
        0xc2,
        0xa5,
        ...Buffer.from('Nodes'),
        0xce,
        0,
        0x0f,
        0x42,
        0x40,
        0xac,
        ...Buffer.from('UserStateLen'),
        0,
      ]),
    );
    const before = process.memoryUsage().heapUsed;
    await clock.runFor(2000);
    assert.ok(process.memoryUsage().heapUsed - before < 8 * 1024 * 1024);
    assert.equal(d.timeout, 1);
    // User state over 20 MiB: refused at the header, answered with an err message.
    const greedy = await rawStream(network, clock, a);
    await greedy.write(encodePushPull({ join: false, nodes: [], userState: new Uint8Array(0) }).subarray(0, 1));
    await greedy.write(
      Uint8Array.from([
        0x83,
        0xa4,
        ...Buffer.from('Join'),
        0xc2,
        0xa5,
        ...Buffer.from('Nodes'),
        0,
        0xac,
        ...Buffer.from('UserStateLen'),
        0xce,
        0x01,
        0x40,
        0x00,
        0x01,
      ]),
    );
    const reply = await readAll(clock, greedy);
    assert.equal(reply[0], MessageType.err);
    assert.equal(d.limit, 1);
    // Ending inside a message is counted as closed; an unknown stream message type as unexpected.
    const quitter = await rawStream(network, clock, a);
    await quitter.write(Uint8Array.from([MessageType.ping, 0x82]));
    await quitter.end();
    await readAll(clock, quitter);
    assert.equal(d.closed, 1);
    const odd = await rawStream(network, clock, a);
    await odd.write(encodeAlive({ ...alive('z'), node: 'z' }));
    await readAll(clock, odd);
    assert.equal(d.unexpected, 1);
    assert.deepEqual(names(a), []);
  });

  it('streams: past the pending limit the oldest idle stream is cut; a join still gets through', async () => {
    const { clock, network, node } = cluster();
    const a = new Memberlist({
      transport: network.createTransport(),
      clock,
      layers: { label: new Uint8Array(0), compression: false },
      name: 'a',
      streamTimeout: 10_000,
    });
    const idle: Stream[] = [];
    for (let i = 0; i < 300; i++) idle.push(await rawStream(network, clock, a));
    await clock.runFor(10);
    assert.equal(a.net.stats.dropped.evicted, 300 - 256);
    const b = node('b');
    assert.equal(await settle(clock, b.join([a.address])), 1);
    assert.deepEqual(names(a), ['b']);
    await clock.runFor(10_000);
    // The join's own stream took a pending slot for a moment and pushed one more idle stream out.
    assert.equal(a.net.stats.dropped.evicted + a.net.stats.dropped.timeout, 300);
    assert.equal(a.net.openStreams, 0);
  });

  it('push/pull: more concurrent ones than the limit are refused as busy', async () => {
    const { clock, network, node } = cluster();
    const a = node('a');
    // 128 push/pulls that sent their type byte and stall inside the header hold every slot.
    for (let i = 0; i < 128; i++) {
      const s = await rawStream(network, clock, a);
      await s.write(Uint8Array.from([MessageType.pushPull, 0x83]));
    }
    await clock.runFor(5);
    const b = node('b');
    assert.equal(await settle(clock, b.join([a.address]), 500), 0);
    assert.equal(a.net.stats.dropped.busy, 1);
    await clock.runFor(1000); // the stalled ones time out and free their slots
    assert.equal(await settle(clock, b.join([a.address])), 1);
  });
});

describe('gossip net fuzzing', () => {
  it('random datagrams: never thrown, each one received, garbage counted as dropped', async () => {
    const fc = await import('fast-check');
    const { clock, network, node } = cluster({ latency: 0 });
    const a = node('a');
    const sender = network.createTransport();
    sender.listen({ datagram: () => {}, stream: (s) => s.destroy() });
    // Valid type bytes up front, so the decoders behind them are reached, not only the type switch.
    const packet = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.integer({ min: 0, max: 13 }), fc.uint8Array({ maxLength: 64 })).map(([t, rest]) => Uint8Array.from([t, ...rest])),
    );
    await fc.assert(
      fc.asyncProperty(packet, async (bytes) => {
        const received = a.net.stats.packetsReceived;
        await sender.send(bytes, a.address);
        await clock.runFor(1);
        assert.equal(a.net.stats.packetsReceived, received + 1);
      }),
      { numRuns: 300, seed: 42 },
    );
    assert.ok(totalDropped(a.net.stats) > 200, `dropped ${totalDropped(a.net.stats)}`);
  });

  it('random streams in random chunks: every one ends (answered, dropped or timed out), none left open', async () => {
    const fc = await import('fast-check');
    const { clock, network, node } = cluster({ latency: 1 });
    const a = node('a');
    const chunked = fc.array(fc.uint8Array({ minLength: 1, maxLength: 16 }), { maxLength: 6 });
    const stream = fc.oneof(
      chunked,
      fc.tuple(fc.constantFrom(0, 6, 8, 9, 10, 13), chunked).map(([t, chunks]) => [Uint8Array.of(t), ...chunks]),
    );
    await fc.assert(
      fc.asyncProperty(stream, fc.boolean(), async (chunks, end) => {
        const s = await rawStream(network, clock, a);
        for (const c of chunks) await s.write(c);
        if (end) await s.end();
        await clock.runFor(1100); // past the stream timeout
        assert.equal(a.net.openStreams, 0);
      }),
      { numRuns: 100, seed: 7 },
    );
    assert.ok(totalDropped(a.net.stats) > 50, `dropped ${totalDropped(a.net.stats)}`);
  });
});

describe('gossip net stream budget', () => {
  it('streams share one read budget: a second large message arriving slowly is refused as busy, the first completes', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 1 });
    const merged: number[] = [];
    const transport = network.createTransport();
    const net = new Net({
      transport,
      clock,
      layers: layers(),
      name: 'a',
      streamTimeout: 5000,
      streamBufferBytes: 12_000,
      handlers: {
        localState: () => ({ nodes: [], userState: new Uint8Array(0) }),
        mergeRemoteState: (r) => merged.push(r.userState.length),
      },
    });
    const target = transport.address;
    const big = encodePushPull({ join: false, nodes: [], userState: new Uint8Array(8000) });
    const first = await rawStreamTo(network, clock, target);
    const second = await rawStreamTo(network, clock, target);
    await first.write(big.subarray(0, 4000));
    await second.write(big.subarray(0, 4000));
    await clock.runFor(5);
    await second.write(big.subarray(4000));
    await clock.runFor(5);
    assert.equal(net.stats.dropped.busy, 1, 'the second pushed the total past the budget');
    await first.write(big.subarray(4000));
    await clock.runFor(5);
    assert.deepEqual(merged, [8000]);
  });
});

describe('gossip net handlers', () => {
  it('user messages reach the handler from packets and streams; a throwing handler is counted, not fatal', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 1 });
    const transport = network.createTransport();
    const got: string[] = [];
    const net = new Net({
      transport,
      clock,
      layers: layers(),
      name: 'a',
      handlers: {
        localState: () => ({ nodes: [], userState: new Uint8Array(0) }),
        mergeRemoteState: () => {
          throw new Error('refused by the merge delegate');
        },
        user: (payload) => {
          const text = Buffer.from(payload).toString();
          if (text === 'boom') throw new Error('handler bug');
          got.push(text);
        },
      },
    });
    const sender = network.createTransport();
    sender.listen({ datagram: () => {}, stream: (s) => s.destroy() });
    await sender.send(encodeUserPacket(Buffer.from('by packet')), transport.address);
    await sender.send(encodeUserPacket(Buffer.from('boom')), transport.address);
    const s = await rawStreamTo(network, clock, transport.address);
    await s.write(encodeUserStream(Buffer.from('by stream')));
    await clock.runFor(10);
    assert.deepEqual(got, ['by packet', 'by stream']);
    assert.equal(net.stats.dropped.handler, 1);
    assert.match(String(net.stats.lastHandlerError), /handler bug/);
    // A merge the handler refuses: the peer still gets our state (as memberlist answers before merging).
    const p = await rawStreamTo(network, clock, transport.address);
    await p.write(encodePushPull({ join: true, nodes: [], userState: new Uint8Array(0) }));
    const answer = await readAll(clock, p);
    assert.equal(answer[0], MessageType.pushPull);
    assert.equal(net.stats.dropped.handler, 2);
  });
});
