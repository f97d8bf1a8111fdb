/** packet.ts: the QU and cache-flush bits dns-packet leaves to us, packing, record identity and the §8.2 order. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compareForTieBreak,
  encodeMessage,
  type Message,
  PACKET_BUDGET,
  PacketError,
  packQuery,
  packResponses,
  type Rr,
  rdataKey,
} from '../../src/adapters/mdns/packet.js';
import { readMessage } from '../../src/adapters/mdns/packet-reader.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as { decode(buf: Buffer): unknown };

const query = (over: Partial<Message> = {}): Message => ({
  id: 0,
  response: false,
  tc: false,
  questions: [],
  answers: [],
  authorities: [],
  additionals: [],
  ...over,
});
const srv = (name: string, port: number, target = 'host.local'): Rr => ({
  name,
  type: 'SRV',
  ttl: 120,
  flush: true,
  data: { priority: 0, weight: 0, port, target },
});
const txt = (name: string, ...strings: string[]): Rr => ({
  name,
  type: 'TXT',
  ttl: 120,
  flush: true,
  data: strings.map((s) => Buffer.from(s)),
});

describe('packet: QU bit', () => {
  it('QU: encodes as the top bit of the question class, which dns-packet decodes as UNKNOWN_32769', () => {
    const buf = encodeMessage(
      query({
        questions: [
          { name: 'a.local', type: 'ANY', qu: true },
          { name: 'b.local', type: 'PTR', qu: false },
        ],
      }),
    );
    // header (12) + name "a.local" (9) + type (2): the class follows.
    assert.equal(buf.readUInt16BE(12 + 9 + 2), 0x8001);
    const raw = dnsPacket.decode(buf) as { questions: Array<{ class: string }> };
    assert.equal(raw.questions[0]?.class, 'UNKNOWN_32769');
    const message = readMessage(buf) as Message;
    assert.deepEqual(
      message.questions.map((q) => [q.name, q.type, q.qu]),
      [
        ['a.local', 'ANY', true],
        ['b.local', 'PTR', false],
      ],
    );
  });

  it('QU: questions of other classes are not ours and are skipped, not dropped', () => {
    const buf = encodeMessage(query({ questions: [{ name: 'a.local', type: 'A', qu: false }] }));
    buf.writeUInt16BE(3, 12 + 9 + 2); // class CH
    const message = readMessage(buf) as Message;
    assert.equal(message.questions.length, 0);
  });
});

describe('packet: records', () => {
  it('cache-flush: set on unique records, absent on shared ones, read back', () => {
    const ptr: Rr = { name: '_x._tcp.local', type: 'PTR', ttl: 4500, flush: false, data: 'i._x._tcp.local' };
    const buf = encodeMessage({ ...query(), response: true, answers: [ptr, srv('i._x._tcp.local', 80)] });
    const message = readMessage(buf) as Message;
    assert.deepEqual(
      message.answers.map((r) => [r.type, r.flush]),
      [
        ['PTR', false],
        ['SRV', true],
      ],
    );
  });

  it('encode: refuses labels over 63 bytes, names over 255 and TXT strings over 255 instead of corrupting the packet', () => {
    assert.throws(() => encodeMessage(query({ questions: [{ name: `${'x'.repeat(64)}.local`, type: 'A', qu: false }] })), PacketError);
    assert.throws(() => encodeMessage(query({ questions: [{ name: `${'x.'.repeat(130)}local`, type: 'A', qu: false }] })), PacketError);
    assert.throws(() => encodeMessage({ ...query(), response: true, answers: [txt('i.local', 'x'.repeat(256))] }), PacketError);
    assert.throws(
      () => encodeMessage({ ...query(), response: true, answers: [srv('i.local', 1, `${'y'.repeat(70)}.local`)] }),
      PacketError,
    );
  });
});

describe('packet: record identity', () => {
  it('TXT key: the same for strings decoded from a packet and for strings built by hand', () => {
    const strings = fc.array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(strings, (raw) => {
        const data = raw.map((a) => Buffer.from(a));
        const buf = encodeMessage(query({ response: true, answers: [{ name: 'a.local', type: 'TXT', ttl: 1, flush: true, data }] }));
        const heard = readMessage(buf) as Message;
        const rr = heard.answers[0] as Rr;
        assert.equal(rdataKey(rr), rdataKey({ type: 'TXT', data }));
        // ... and differs as soon as one byte or one boundary does.
        if (data.length > 1 && (data[0] as Buffer).length > 0) {
          const moved = [Buffer.concat([data[0] as Buffer, data[1] as Buffer]), ...data.slice(2)];
          assert.notEqual(rdataKey({ type: 'TXT', data: moved }), rdataKey(rr));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('packet: packing', () => {
  it('responses: groups stay whole, packets stay within budget, and no record repeats within a packet', () => {
    const groups = Array.from({ length: 40 }, (_, i) => ({
      answers: [{ name: '_x._tcp.local', type: 'PTR' as const, ttl: 4500, flush: false, data: `i${i}._x._tcp.local` }],
      additionals: [srv(`i${i}._x._tcp.local`, 1000 + i), txt(`i${i}._x._tcp.local`, 'k=v'.repeat(20)), txt('shared.local', 'same')],
    }));
    const messages = packResponses(groups);
    assert.ok(messages.length > 1);
    let ptrs = 0;
    for (const m of messages) {
      assert.ok(encodeMessage(m).length <= PACKET_BUDGET, 'within budget');
      ptrs += m.answers.length;
      const keys = [...m.answers, ...m.additionals].map((r) => JSON.stringify([r.name, r.type, r.data]));
      assert.equal(new Set(keys).size, keys.length, 'no duplicate in a packet');
      for (const a of m.answers)
        assert.ok(
          m.additionals.some((r) => r.type === 'SRV' && r.name === a.data),
          'a PTR travels with its SRV',
        );
    }
    assert.equal(ptrs, 40);
  });

  it('query: known answers that do not fit continue in TC packets; questions only in the first', () => {
    const known = Array.from({ length: 60 }, (_, i) => ({
      name: '_x._tcp.local',
      type: 'PTR' as const,
      ttl: 4000,
      flush: false,
      data: `instance-${i}._x._tcp.local`,
    }));
    const messages = packQuery([{ name: '_x._tcp.local', type: 'PTR', qu: false }], known);
    assert.ok(messages.length > 1);
    assert.deepEqual(
      messages.map((m) => m.tc),
      [...messages.slice(1).map(() => true), false],
    );
    assert.equal(messages[0]?.questions.length, 1);
    assert.ok(messages.slice(1).every((m) => m.questions.length === 0));
    assert.equal(
      messages.reduce((n, m) => n + m.answers.length, 0),
      60,
    );
    for (const m of messages) assert.ok(encodeMessage(m).length <= PACKET_BUDGET);
  });
});

describe('packet: query splitting', () => {
  it('query split: any number of questions goes in queries within the budget, each question once, with its known answers beside it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2500 }), fc.integer({ min: 0, max: 6 }), (count, knownEach) => {
        const questions = Array.from({ length: count }, (_, i) => ({
          name: `_service-${i}._sub._rollcall._tcp.local`,
          type: 'PTR',
          qu: false,
        }));
        const known: Rr[] = questions.flatMap((q, i) =>
          Array.from({ length: i % 7 < knownEach ? 2 : 0 }, (_, k) => ({
            name: q.name,
            type: 'PTR' as const,
            ttl: 4500,
            flush: false,
            data: `instance-${i}-${k}._rollcall._tcp.local`,
          })),
        );
        const messages = packQuery(questions, known);
        for (const m of messages) assert.ok(encodeMessage(m).length <= PACKET_BUDGET, `${encodeMessage(m).length} bytes`);
        assert.deepEqual(
          messages.flatMap((m) => m.questions.map((q) => q.name)),
          questions.map((q) => q.name),
        );
        assert.equal(
          messages.reduce((n, m) => n + m.answers.length, 0),
          known.length,
        );
        // A known answer travels in the query that asks its question (or in that query's TC continuations).
        let asked = new Set<string>();
        for (const m of messages) {
          if (m.questions.length > 0) asked = new Set(m.questions.map((q) => q.name));
          for (const a of m.answers) assert.ok(asked.has(a.name), `${a.name} away from its question`);
        }
        // TC only where the next packet continues the same query.
        messages.forEach((m, i) => {
          if (m.tc) assert.equal(messages[i + 1]?.questions.length, 0);
        });
      }),
      { numRuns: 60 },
    );
  });
});

describe('packet: §8.2 tie-break', () => {
  it('tie-break: identical sets tie; the set with the greater first differing record wins', () => {
    const a = [srv('n.local', 80), txt('n.local', 'x=1')];
    assert.equal(compareForTieBreak(a, [...a].reverse()), 0);
    // Sorted by type: TXT (16) comes before SRV (33), so TXT decides first.
    assert.equal(compareForTieBreak([srv('n.local', 80), txt('n.local', 'x=2')], [srv('n.local', 9999), txt('n.local', 'x=1')]), 1);
    assert.equal(compareForTieBreak([srv('n.local', 80)], [srv('n.local', 81)]), -1);
    // Class and type before data: an A record sorts before any SRV.
    assert.equal(compareForTieBreak([{ name: 'n.local', type: 'A', ttl: 1, flush: false, data: '10.0.0.9' }], [srv('n.local', 1)]), -1);
    // A set that runs out first is the smaller.
    assert.equal(compareForTieBreak([srv('n.local', 80)], [srv('n.local', 80), txt('n.local', 'x')]), 1);
  });

  it('tie-break: antisymmetric, so exactly one of two hosts defers', () => {
    const record = fc.oneof(
      fc
        .record({ port: fc.nat(65535), target: fc.stringMatching(/^[a-z]{1,10}$/) })
        .map(({ port, target }) => srv('n.local', port, `${target}.local`)),
      fc.array(fc.stringMatching(/^[a-z=0-9]{0,20}$/), { maxLength: 4 }).map((s) => txt('n.local', ...s)),
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 3 }), fc.array(record, { maxLength: 3 }), (x, y) => {
        assert.equal(compareForTieBreak(x, y), -compareForTieBreak(y, x) || 0);
      }),
    );
  });
});
