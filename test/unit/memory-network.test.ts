import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRollcallError } from '../../src/errors.js';
import { MemoryNetwork } from '../../src/internal/memory-network.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';
import type { Datagram, Stream, Transport } from '../../src/internal/transport.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function readAll(stream: Stream): Promise<string> {
  let out = '';
  for (let chunk = await stream.read(); chunk; chunk = await stream.read()) out += str(chunk);
  return out;
}

/**
 * A tiny request/answer protocol, enough to show the seam carries a real exchange: node "a"
 * pings "b" every 100 ms with a sequence number, b answers `ack:<n>`; a counts the answers.
 */
function pinger(from: Transport, to: Transport, clock: SimulatedClock) {
  const acked = new Set<number>();
  let seq = 0;
  from.listen({
    datagram: (d) => {
      const [kind, n] = str(d.data).split(':');
      if (kind === 'ack') acked.add(Number(n));
    },
    stream: (s) => s.destroy(),
  });
  to.listen({
    datagram: (d) => {
      const [kind, n] = str(d.data).split(':');
      if (kind === 'ping') void to.send(text(`ack:${n}`), d.from);
    },
    stream: (s) => s.destroy(),
  });
  const tick = () => {
    void from.send(text(`ping:${seq++}`), to.address);
    clock.setTimeout(tick, 100);
  };
  tick();
  return { acked, sent: () => seq };
}

describe('MemoryNetwork', () => {
  it('two-node exchange: loss drops some pings, a partition drops all, healing brings them back', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, seed: 7, latency: 5, loss: 0.2 });
    const a = network.createTransport();
    const b = network.createTransport();
    const { acked } = pinger(a, b, clock);

    await clock.runFor(10_000); // 100 pings at 20 % loss each way: about 64 answers
    const beforePartition = acked.size;
    assert.ok(beforePartition > 40 && beforePartition < 90, `answers under 20 % loss: ${beforePartition}`);
    assert.ok(network.stats.lost > 20, `lost ${network.stats.lost}`);

    network.partition([a.address], [b.address]);
    await clock.runFor(5_000);
    assert.equal(acked.size, beforePartition, 'no answer crosses a partition');
    assert.ok(network.stats.partitioned >= 30, `partitioned ${network.stats.partitioned}`);

    network.heal();
    network.setLoss(0);
    await clock.runFor(1_050);
    assert.equal(acked.size, beforePartition + 10, 'every ping after healing is answered');
    // The sequence numbers tell the phases apart: none of 100..149 (the partition) was answered.
    for (let n = 101; n < 150; n++) assert.equal(acked.has(n), false, `ping ${n} answered across the partition`);
  });

  it('same seed, same losses: a run can be replayed exactly', async () => {
    const run = async () => {
      const clock = new SimulatedClock();
      const network = new MemoryNetwork({ clock, seed: 42, latency: 1, loss: 0.5 });
      const a = network.createTransport();
      const b = network.createTransport();
      const { acked } = pinger(a, b, clock);
      await clock.runFor(3_000);
      return [...acked];
    };
    assert.deepEqual(await run(), await run());
  });

  it('datagrams arrive after the latency with the sender address and the arrival time', async () => {
    const clock = new SimulatedClock(500);
    const network = new MemoryNetwork({ clock, latency: (from) => (from.host === '10.0.0.1' ? 30 : 7) });
    const a = network.createTransport();
    const b = network.createTransport();
    const got: Datagram[] = [];
    b.listen({ datagram: (d) => got.push(d), stream: (s) => s.destroy() });
    const sentAt = await a.send(text('hello'), b.address);
    assert.equal(sentAt, 500);
    await clock.runFor(29);
    assert.equal(got.length, 0);
    await clock.runFor(1);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]?.from, a.address);
    assert.equal(got[0]?.receivedAt, 530);
    assert.equal(str(got[0]?.data ?? new Uint8Array()), 'hello');
  });

  it('streams: ordered bytes both ways, end seen as null, latency per direction', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 10 });
    const a = network.createTransport();
    const b = network.createTransport();
    b.listen({
      datagram: () => {},
      stream: async (s) => {
        const request = await readAll(s);
        await s.write(text(`you said ${request.length} bytes: `));
        await s.write(text(request.toUpperCase()));
        await s.end();
      },
    });
    const dialing = a.dial(b.address, 1000);
    await clock.runFor(20);
    const stream = await dialing;
    assert.deepEqual(stream.remote, b.address);
    for (const part of ['one ', 'two ', 'three']) await stream.write(text(part));
    await stream.end();
    const answer = readAll(stream);
    await clock.runUntilIdle();
    assert.equal(await answer, 'you said 13 bytes: ONE TWO THREE');
    assert.equal(clock.now(), 40, 'dial round trip 20 ms, request 10 ms, answer 10 ms');
  });

  it('streams: a dial across a partition times out; to nobody it is refused', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 5 });
    const a = network.createTransport();
    const b = network.createTransport();
    b.listen({ datagram: () => {}, stream: (s) => s.destroy() });
    network.partition([a.address], [b.address]);
    const cut = a.dial(b.address, 300);
    const refused = a.dial({ host: '10.9.9.9', port: 1 }, 300);
    const outcomes = Promise.allSettled([cut, refused]);
    await clock.runFor(300);
    const [cutResult, refusedResult] = await outcomes;
    assert.ok(cutResult.status === 'rejected' && isRollcallError(cutResult.reason, 'TIMEOUT'));
    assert.ok(refusedResult.status === 'rejected' && isRollcallError(refusedResult.reason, 'UNAVAILABLE'));
  });

  it('streams: bytes written during a partition wait for the heal and keep their order', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 5 });
    const a = network.createTransport();
    const b = network.createTransport();
    let received = '';
    b.listen({
      datagram: () => {},
      stream: async (s) => {
        received = await readAll(s);
      },
    });
    const dialing = a.dial(b.address, 100);
    await clock.runFor(10);
    const stream = await dialing;
    await stream.write(text('before '));
    await clock.runFor(5);
    network.partition([a.address], [b.address]);
    await stream.write(text('during '));
    await clock.runFor(1000);
    assert.equal(received, '');
    network.heal();
    await stream.write(text('after'));
    await stream.end();
    await clock.runUntilIdle();
    assert.equal(received, 'before during after');
  });

  it('close: destroys open streams (the peer reads a reset) and frees the address', async () => {
    const clock = new SimulatedClock();
    const network = new MemoryNetwork({ clock, latency: 1 });
    const a = network.createTransport({ host: '10.1.1.1', port: 1 });
    const b = network.createTransport({ host: '10.1.1.2', port: 1 });
    let serverSide: Stream | undefined;
    b.listen({ datagram: () => {}, stream: (s) => (serverSide = s) });
    const dialing = a.dial(b.address, 100);
    await clock.runFor(2);
    const stream = await dialing;
    const pending = assert.rejects(stream.read(), (e) => isRollcallError(e, 'UNAVAILABLE'));
    await b.close();
    await clock.runFor(1);
    await pending;
    assert.equal(serverSide?.closed, true);
    assert.throws(
      () => network.createTransport({ host: '10.1.1.1', port: 1 }),
      (e) => isRollcallError(e, 'CONFLICT'),
    );
    network.createTransport({ host: '10.1.1.2', port: 1 });
  });
});
