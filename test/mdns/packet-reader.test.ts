/**
 * packet-reader.ts: what it reads agrees with dns-packet's decoder on everything dns-packet can
 * write; compression pointers, the limits of names and rdata, and hostile bytes become drop
 * reasons, never exceptions.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldName } from '../../src/adapters/mdns/names.js';
import { encodeMessage, type Message, type Rr, rdataKey, type SrvData, txtKey, txtStrings } from '../../src/adapters/mdns/packet.js';
import { ipv6Text, MAX_RECEIVED_TTL, readMessage } from '../../src/adapters/mdns/packet-reader.js';
import { header, labels, pointer, tail } from './wire-bytes.js';

const require = createRequire(import.meta.url);
interface RawRecord {
  name: string;
  type: string;
  class: string;
  ttl: number;
  flush: boolean;
  data: unknown;
}
interface RawPacket {
  id: number;
  type: string;
  flags: number;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: RawRecord[];
  authorities: RawRecord[];
  additionals: RawRecord[];
}
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  encode(p: object): Buffer;
  decode(b: Buffer): RawPacket;
};

const read = (buf: Buffer): Message => {
  const m = readMessage(buf);
  if (typeof m === 'string') throw new Error(`dropped: ${m}`);
  return m;
};

/**
 * RFC 5952 form of an IPv6 address: as the WHATWG URL parser writes it (longest zero run,
 * lowercase), except that an IPv4-mapped address ends in dotted decimal (§5), which URL does not do.
 */
const canonical6 = (ip: string) => {
  const text = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(text);
  if (!mapped) return text;
  const [hi, lo] = [Number.parseInt(mapped[1] as string, 16), Number.parseInt(mapped[2] as string, 16)];
  return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
};

// --- Generators: what dns-packet can write, in the shapes mDNS uses ---
const asciiLabel = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
const unicodeLabel = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
  .filter((s) => !s.includes('.') && Buffer.byteLength(s) <= 63 && !s.includes('\uFFFD'));
const name = fc
  .array(fc.oneof({ weight: 4, arbitrary: asciiLabel }, { weight: 1, arbitrary: unicodeLabel }), { minLength: 1, maxLength: 5 })
  .map((labels) => labels.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6 = fc.oneof(
  fc
    .array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 })
    .map((groups) => groups.map((g) => g.toString(16)).join(':')),
  ipv4.map((v4) => `::ffff:${v4}`),
);
const ours = fc.oneof(
  fc.record({ type: fc.constant('A'), data: ipv4 }),
  fc.record({ type: fc.constant('AAAA'), data: ipv6 }),
  fc.record({ type: fc.constant('PTR'), data: name }),
  fc.record({
    type: fc.constant('SRV'),
    data: fc.record({ priority: fc.nat(0xffff), weight: fc.nat(0xffff), port: fc.nat(0xffff), target: name }),
  }),
  fc.record({ type: fc.constant('TXT'), data: fc.array(fc.uint8Array({ maxLength: 60 }).map(Buffer.from), { maxLength: 6 }) }),
);
const notOurs = fc.oneof(
  fc.record({ type: fc.constant('HINFO'), data: fc.record({ cpu: asciiLabel, os: asciiLabel }) }),
  fc.record({ type: fc.constant('NSEC'), data: fc.record({ nextDomain: name, rrtypes: fc.constant(['A', 'TXT']) }) }),
);
const record = fc.record({
  name,
  rr: fc.oneof({ weight: 5, arbitrary: ours }, { weight: 1, arbitrary: notOurs }),
  class: fc.constantFrom('IN', 'IN', 'IN', 'CH'),
  ttl: fc.oneof(fc.nat(4500), fc.constant(0), fc.constant(0xffffffff)),
  flush: fc.boolean(),
});
const packet = fc.record({
  id: fc.nat(0xffff),
  response: fc.boolean(),
  questions: fc.array(fc.record({ name, type: fc.constantFrom('A', 'AAAA', 'PTR', 'SRV', 'TXT', 'ANY', 'NSEC') }), { maxLength: 3 }),
  answers: fc.array(record, { maxLength: 6 }),
  additionals: fc.array(record, { maxLength: 4 }),
});

type Gen = typeof record extends fc.Arbitrary<infer T> ? T : never;
const toRaw = (r: Gen) => ({ name: r.name, type: r.rr.type, class: r.class, ttl: r.ttl, flush: r.flush, data: r.rr.data });
/** What the reader should make of a record dns-packet decoded: ours and of class IN (TTL capped), or nothing. */
const expected = (r: RawRecord) => {
  if (!['A', 'AAAA', 'PTR', 'SRV', 'TXT'].includes(r.type) || r.class !== 'IN') return [];
  const data = r.type === 'AAAA' ? canonical6(r.data as string) : r.data;
  return [{ name: r.name, fname: foldName(r.name), type: r.type, ttl: Math.min(r.ttl, MAX_RECEIVED_TTL), flush: r.flush, data }];
};
const seen = (r: Rr) => ({
  name: r.name,
  fname: r.fname,
  type: r.type,
  ttl: r.ttl,
  flush: r.flush,
  data: r.type === 'TXT' ? [...(r.data as Buffer[])] : r.data,
});

describe('packet-reader: agrees with dns-packet', () => {
  it('differential (fuzz): every packet dns-packet writes reads back as dns-packet decodes it', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const buf = dnsPacket.encode({
          id: p.id,
          type: p.response ? 'response' : 'query',
          flags: p.response ? 0x400 : 0,
          questions: p.questions.map((q) => ({ ...q, class: 'IN' })),
          answers: p.answers.map(toRaw),
          additionals: p.additionals.map(toRaw),
        });
        const reference = dnsPacket.decode(buf);
        const m = read(buf);
        assert.equal(m.id, reference.id);
        assert.equal(m.response, reference.type === 'response');
        assert.deepEqual(
          m.questions.map((q) => [q.name, q.type, q.qu]),
          reference.questions.map((q) => [q.name, q.type === 'NSEC' ? 'TYPE47' : q.type, false]),
        );
        assert.deepEqual(m.answers.map(seen), reference.answers.flatMap(expected));
        assert.deepEqual(m.additionals.map(seen), reference.additionals.flatMap(expected));
        for (const r of [...m.answers, ...m.additionals]) {
          if (r.type !== 'TXT') continue;
          assert.equal(rdataKey(r), txtKey(r.data as Buffer[]), 'the wire text is the TXT key');
          assert.deepEqual(txtStrings(r), txtStrings({ data: r.data }), 'strings sliced from the wire text, as from the buffers');
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('our own encoder: QU and cache-flush bits, TC, and the folded names', () => {
    const buf = encodeMessage({
      id: 7,
      response: false,
      tc: true,
      questions: [
        { name: 'Web._HTTP._tcp.local', type: 'PTR', qu: true },
        { name: 'b.local', type: 'ANY', qu: false },
      ],
      answers: [{ name: 'Web._HTTP._tcp.local', type: 'PTR', ttl: 4500, flush: false, data: 'I._http._tcp.local' }],
      authorities: [{ name: 'Ä-Box.local', type: 'A', ttl: 120, flush: true, data: '10.0.0.1' }],
      additionals: [],
    });
    const m = read(buf);
    assert.equal(m.tc, true);
    assert.deepEqual(
      m.questions.map((q) => [q.name, q.type, q.qu]),
      [
        ['Web._HTTP._tcp.local', 'PTR', true],
        ['b.local', 'ANY', false],
      ],
    );
    assert.equal(m.answers[0]?.fname, 'web._http._tcp.local');
    // RFC 6762 §16: only ASCII folds; the Ä stays.
    assert.equal(m.authorities[0]?.fname, 'Ä-box.local');
    assert.deepEqual([m.answers[0]?.flush, m.authorities[0]?.flush], [false, true]);
  });
});

// --- Hand-built packets: compression and the limits ---

describe('packet-reader: names', () => {
  it('compression: pointers to earlier names, inside names and inside rdata, as avahi writes them', () => {
    // 12: "_http._tcp.local" ; the PTR's data is "web" + pointer to 12 ; the SRV's owner is a pointer to that.
    const owner = labels('_http', '_tcp', 'local');
    const ptrAt = 12 + owner.length + 10;
    const ptrData = Buffer.concat([Buffer.from([3]), Buffer.from('web'), pointer(12)]);
    const srvData = Buffer.concat([Buffer.from([0, 0, 0, 0, 0x1f, 0x90]), labels('host', 'local')]);
    const buf = Buffer.concat([header({ an: 2 }), owner, tail(12, ptrData), pointer(ptrAt), tail(33, srvData)]);
    const m = read(buf);
    assert.deepEqual(
      m.answers.map((r) => [r.name, r.type, r.data]),
      [
        ['_http._tcp.local', 'PTR', 'web._http._tcp.local'],
        ['web._http._tcp.local', 'SRV', { priority: 0, weight: 0, port: 8080, target: 'host.local' } satisfies SrvData],
      ],
    );
  });

  it('folding: owner names are folded as foldName folds them, joined across pointers, taken as they are when already folded', () => {
    // "Web._HTTP" + pointer to "_tcp.local" (12); a label ending in a dot; a UTF-8 label after an uppercase one.
    const base = labels('_tcp', 'local');
    const a = Buffer.concat([Buffer.from([3]), Buffer.from('Web'), Buffer.from([5]), Buffer.from('_HTTP'), pointer(12)]);
    const dotted = Buffer.concat([Buffer.from([4]), Buffer.from('host'), Buffer.from([2]), Buffer.from('a.'), Buffer.from([0])]);
    const utf8 = labels('Box', 'Ä-ß', 'local');
    const plain = labels('web', '_http', '_tcp', 'local');
    const ipv4 = Buffer.from([10, 0, 0, 1]);
    const buf = Buffer.concat([
      header({ an: 5 }),
      base,
      tail(1, ipv4),
      a,
      tail(1, ipv4),
      dotted,
      tail(1, ipv4),
      utf8,
      tail(1, ipv4),
      plain,
      tail(1, ipv4),
    ]);
    const m = read(buf);
    assert.deepEqual(
      m.answers.map((r) => [r.name, r.fname]),
      [
        ['_tcp.local', '_tcp.local'],
        ['Web._HTTP._tcp.local', 'web._http._tcp.local'],
        // A dot inside a label reads as a separator (as in dns-packet); the trailing one goes, as foldName drops it.
        ['host.a.', 'host.a'],
        ['Box.Ä-ß.local', 'box.Ä-ß.local'],
        ['web._http._tcp.local', 'web._http._tcp.local'],
      ],
    );
    for (const r of m.answers) assert.equal(r.fname, foldName(r.name));
  });

  it('compression: a pointer to itself, forwards, or into a loop is refused', () => {
    const self = Buffer.concat([header({ an: 1 }), pointer(12), tail(1, Buffer.from([1, 2, 3, 4]))]);
    assert.equal(readMessage(self), 'malformed record');
    const forwards = Buffer.concat([header({ an: 1 }), pointer(14), labels('a'), tail(1, Buffer.from([1, 2, 3, 4]))]);
    assert.equal(readMessage(forwards), 'malformed record');
    // "a" then a pointer back to its own start: the second jump does not point before the run it came from.
    const loop = Buffer.concat([header({ an: 1 }), Buffer.from([1, 0x61]), pointer(12), tail(1, Buffer.from([1, 2, 3, 4]))]);
    assert.equal(readMessage(loop), 'malformed record');
  });

  it('limits: a name over 255 bytes, a label type other than 0 or 3, a name running off the packet', () => {
    const long = Buffer.concat([
      header({ an: 1 }),
      labels(...Array.from({ length: 5 }, () => 'x'.repeat(60))),
      tail(1, Buffer.from([1, 2, 3, 4])),
    ]);
    assert.equal(readMessage(long), 'malformed record');
    const fits = Buffer.concat([
      header({ an: 1 }),
      labels(...Array.from({ length: 4 }, () => 'x'.repeat(62))),
      tail(1, Buffer.from([1, 2, 3, 4])),
    ]);
    assert.equal(read(fits).answers.length, 1, '4 x 63 + 1 = 253 bytes fits');
    const extended = Buffer.concat([header({ an: 1 }), Buffer.from([0x41, 0x61, 0]), tail(1, Buffer.from([1, 2, 3, 4]))]);
    assert.equal(readMessage(extended), 'malformed record');
    assert.equal(readMessage(Buffer.concat([header({ an: 1 }), Buffer.from([5, 0x61])])), 'malformed record');
    assert.equal(readMessage(Buffer.concat([header({ qd: 1 }), labels('a'), Buffer.from([0, 1])])), 'malformed question');
  });

  it('the root name reads as a lone dot, as dns-packet writes it', () => {
    const buf = Buffer.concat([header({ an: 1 }), labels('a'), tail(12, Buffer.from([0]))]);
    assert.equal(read(buf).answers[0]?.data, '.');
  });
});

describe('packet-reader: rdata', () => {
  const one = (type: number, rdata: Buffer, klass = 1) =>
    readMessage(Buffer.concat([header({ an: 1 }), labels('a', 'local'), tail(type, rdata, klass)]));

  it('each type checks its rdata: A and AAAA lengths, an SRV shorter than its fixed part, TXT strings past the end, names past the rdata', () => {
    assert.equal(one(1, Buffer.from([1, 2, 3])), 'malformed A data');
    assert.equal(one(28, Buffer.alloc(15)), 'malformed AAAA data');
    assert.equal(one(33, Buffer.alloc(6)), 'malformed SRV data');
    assert.equal(one(16, Buffer.from([5, 0x61])), 'malformed TXT data');
    // A PTR whose name goes on past its rdata length.
    const ptr = Buffer.concat([header({ an: 1 }), labels('a'), tail(12, Buffer.from([1, 0x62])), Buffer.from([0])]);
    assert.equal(readMessage(ptr), 'malformed PTR data');
    const short = Buffer.concat([header({ an: 1 }), labels('a'), tail(1, Buffer.from([1, 2, 3, 4])).subarray(0, 12)]);
    assert.equal(readMessage(short), 'malformed record');
  });

  it('other types and classes are skipped by length, never read: their rdata may be anything', () => {
    const m = readMessage(
      Buffer.concat([
        header({ an: 3 }),
        labels('a'),
        tail(47, Buffer.from([0xff, 0xff])),
        labels('b'),
        tail(1, Buffer.from([1, 2]), 3),
        labels('c'),
        tail(1, Buffer.from([9, 9, 9, 9])),
      ]),
    );
    assert.deepEqual(
      (m as Message).answers.map((r) => [r.name, r.data]),
      [['c', '9.9.9.9']],
    );
    // OPT (EDNS) carries a payload size where the class would be.
    const opt = readMessage(Buffer.concat([header({ ar: 1 }), Buffer.from([0]), tail(41, Buffer.alloc(0), 1440)]));
    assert.equal((opt as Message).additionals.length, 0);
  });

  it('an empty TXT rdata is no strings; its key is the empty text', () => {
    const m = one(16, Buffer.alloc(0)) as Message;
    assert.deepEqual(m.answers[0]?.data, []);
    assert.equal(rdataKey(m.answers[0] as Rr), '');
  });

  it('IPv6 in RFC 5952 form: the longest run of zeros compressed, the first of equal runs, none for a single zero, IPv4-mapped dotted', () => {
    const bytes = (hex: string) => Buffer.from(hex.replace(/:/g, ''), 'hex');
    assert.equal(ipv6Text(bytes('2001:0db8:0000:0000:0001:0000:0000:0000'), 0), '2001:db8:0:0:1::');
    assert.equal(ipv6Text(bytes('2001:0db8:0000:0001:0001:0001:0001:0001'), 0), '2001:db8:0:1:1:1:1:1');
    assert.equal(ipv6Text(bytes('fe80:0000:0000:0000:0000:0000:0000:0001'), 0), 'fe80::1');
    assert.equal(ipv6Text(bytes('0000:0000:0000:0000:0000:0000:0000:0000'), 0), '::');
    assert.equal(ipv6Text(bytes('0000:0000:0000:0000:0000:ffff:0a00:0001'), 0), '::ffff:10.0.0.1');
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }), (groups) => {
        const buf = Buffer.alloc(16);
        for (const [i, g] of groups.entries()) buf.writeUInt16BE(g, 2 * i);
        assert.equal(ipv6Text(buf, 0), canonical6(groups.map((g) => g.toString(16)).join(':')));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('packet-reader: hostile input', () => {
  it('header: too short, other opcodes and rcodes, too many records', () => {
    assert.equal(readMessage(Buffer.alloc(11)), 'truncated header');
    assert.equal(readMessage(header({}, 0x8400 | (5 << 11))), 'opcode 5');
    assert.equal(readMessage(header({}, 0x8403)), 'rcode 3');
    assert.equal(readMessage(header({ an: 400, ar: 200 })), 'too many records');
  });

  it('fuzz: random bytes never throw, and whatever reads is well-formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const m = readMessage(Buffer.from(bytes));
        if (typeof m === 'string') return;
        for (const r of [...m.answers, ...m.authorities, ...m.additionals]) {
          assert.ok(Number.isInteger(r.ttl) && r.ttl >= 0);
          assert.equal(r.fname, foldName(r.name));
          if (r.type === 'TXT') assert.ok(Array.isArray(r.data));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('fuzz: mutations of a real announcement never throw; unchanged bytes read as before', () => {
    const good = encodeMessage({
      id: 0,
      response: true,
      tc: false,
      questions: [],
      answers: [
        { name: '_rollcall._tcp.local', type: 'PTR', ttl: 4500, flush: false, data: 'n1._rollcall._tcp.local' },
        {
          name: 'n1._rollcall._tcp.local',
          type: 'SRV',
          ttl: 120,
          flush: true,
          data: { priority: 0, weight: 0, port: 80, target: 'h.local' },
        },
        { name: 'n1._rollcall._tcp.local', type: 'TXT', ttl: 120, flush: true, data: [Buffer.from('txtvers=1'), Buffer.from('name=a')] },
      ],
      authorities: [],
      additionals: [{ name: 'h.local', type: 'A', ttl: 120, flush: true, data: '10.0.0.2' }],
    });
    assert.equal(read(good).answers.length, 3);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { maxLength: 8 }), (edits) => {
        const buf = Buffer.from(good);
        for (const [at, value] of edits) buf[at] = value;
        readMessage(buf);
      }),
      { numRuns: 3000 },
    );
  });
});
