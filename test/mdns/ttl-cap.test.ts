/**
 * Received TTLs over their whole range (0 .. 2^32-1 s): the reader caps them at 75 minutes, and
 * the record cache never schedules a timer Node cannot honour. Uncapped, one record with a TTL of
 * about 2.7 million seconds or more made the cache's sweep timer overflow (Node fires it after
 * 1 ms instead) and the sweep reschedule itself the same way, a core spinning on one packet.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordCache } from '../../src/adapters/mdns/cache.js';
import type { Rr } from '../../src/adapters/mdns/packet.js';
import { readMessage } from '../../src/adapters/mdns/packet-reader.js';
import { MAX_TIMER_DELAY } from '../../src/internal/clock.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as { encode(m: object): Buffer };

/** A response announcing one node, every record with the same TTL. */
function announcement(i: number, ttl: number): Buffer {
  const instance = `n${i}._rollcall._tcp.local`;
  const host = `h${i}.local`;
  return dnsPacket.encode({
    type: 'response',
    flags: 0x400,
    answers: [
      { name: '_rollcall._tcp.local', type: 'PTR', ttl, data: instance },
      { name: instance, type: 'SRV', ttl, flush: true, data: { priority: 0, weight: 0, port: 80, target: host } },
      { name: instance, type: 'TXT', ttl, flush: true, data: [Buffer.from('txtvers=1')] },
      { name: host, type: 'A', ttl, flush: true, data: '169.254.1.1' },
    ],
  });
}

/** Counts TimeoutOverflowWarnings (Node emits them on the next tick of the overflowing setTimeout). */
function overflowWarnings(): { count: () => number; stop: () => void } {
  let n = 0;
  const listener = (w: Error) => {
    if (w.name === 'TimeoutOverflowWarning') n++;
  };
  process.on('warning', listener);
  return { count: () => n, stop: () => process.off('warning', listener) };
}

/** RFC 6762 §10's longest TTL (PTR and TXT, 75 minutes): the cap the reader applies. */
const MAX_RECEIVED_TTL = 4500;

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('received TTLs', () => {
  it('ttl cap: every TTL from 0 to 2^32-1 reads as at most 4500 s, and a cache holding them never wakes early or overflows a timer', async (t) => {
    const warnings = overflowWarnings();
    t.after(() => warnings.stop());
    let clockReads = 0;
    const cache = new RecordCache({
      maxRecords: 100_000,
      now: () => {
        clockReads++;
        return performance.now();
      },
      events: { expired: () => {}, refresh: () => {} },
    });
    t.after(() => cache.clear());
    let i = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 4500, 4501, 2 ** 31 - 1, 2 ** 31, 0xffffffff)),
        (ttl) => {
          const message = readMessage(announcement(i++, ttl));
          assert.ok(typeof message !== 'string', String(message));
          for (const rr of message.answers) {
            assert.equal(rr.ttl, Math.min(ttl, MAX_RECEIVED_TTL), `${rr.type} with TTL ${ttl}`);
            cache.add(rr, 'eth0');
          }
        },
      ),
      { numRuns: 500 },
    );
    // Nothing is due for at least 0.8 s (the first refresh point of a 1 s TTL): an idle cache reads no clock.
    clockReads = 0;
    await idle(100);
    assert.equal(warnings.count(), 0, 'no timer delay overflowed');
    assert.ok(clockReads <= 1, `the cache woke up ${clockReads} times while nothing was due`);
  });

  it('ttl cap: the cache clamps its own timer for a record that bypassed the reader (TTL 2^32 s)', async (t) => {
    const warnings = overflowWarnings();
    t.after(() => warnings.stop());
    let clockReads = 0;
    const cache = new RecordCache({
      maxRecords: 100,
      now: () => {
        clockReads++;
        return performance.now();
      },
      events: { expired: () => {}, refresh: () => {} },
    });
    t.after(() => cache.clear());
    const rr: Rr = { name: 'x._rollcall._tcp.local', type: 'TXT', ttl: 2 ** 32, flush: true, data: [Buffer.from('a=b')] };
    cache.add(rr, 'eth0');
    clockReads = 0;
    await idle(100);
    assert.equal(warnings.count(), 0, 'no timer delay overflowed');
    assert.ok(clockReads <= 1, `the cache woke up ${clockReads} times while nothing was due`);
    assert.ok(MAX_TIMER_DELAY < 2 ** 32 * 800, 'the record is indeed beyond what a timer holds');
  });
});
