/**
 * msgpack.ts: Go 0.5's integer and raw forms on the way out, both go-msgpack integer families,
 * str8 and bin on the way in, and a value scanner that frames stream messages in one pass however
 * the bytes are split.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isWireError, WireError } from '../../src/adapters/gossip/wire/errors.js';
import { MsgpackReader, MsgpackWriter, scanValue, ValueScanner } from '../../src/adapters/gossip/wire/msgpack.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const write = (f: (w: MsgpackWriter) => void) => {
  const w = new MsgpackWriter(4);
  f(w);
  return hex(w.toBytes());
};

describe('msgpack writer: the go-msgpack 0.5 forms', () => {
  it('uint: smallest unsigned form at every boundary', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65535, 'cdffff'],
      [65536, 'ce00010000'],
      [0xffffffff, 'ceffffffff'],
      [0x100000000, 'cf0000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
    ];
    for (const [v, want] of cases)
      assert.equal(
        write((w) => w.uint(v)),
        want,
        String(v),
      );
    assert.equal(
      write((w) => w.uint64(0xffff_ffff_ffff_ffffn)),
      'cfffffffffffffffff',
    );
  });

  it('int: non-negative as uint (0.5), negative in the smallest signed form', () => {
    const cases: [number, string][] = [
      [200, 'ccc8'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-128, 'd080'],
      [-129, 'd1ff7f'],
      [-32768, 'd18000'],
      [-32769, 'd2ffff7fff'],
      [-(2 ** 31), 'd280000000'],
      [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    ];
    for (const [v, want] of cases)
      assert.equal(
        write((w) => w.int(v)),
        want,
        String(v),
      );
  });

  it('str and raw: old-spec raw at every length boundary, never str8 or bin', () => {
    assert.equal(
      write((w) => w.str('')),
      'a0',
    );
    assert.equal(write((w) => w.str('x'.repeat(31))).slice(0, 2), 'bf');
    assert.equal(write((w) => w.str('x'.repeat(32))).slice(0, 6), 'da0020');
    assert.equal(write((w) => w.raw(new Uint8Array(255))).slice(0, 6), 'da00ff');
    assert.equal(write((w) => w.raw(new Uint8Array(65535))).slice(0, 6), 'daffff');
    assert.equal(write((w) => w.raw(new Uint8Array(65536))).slice(0, 10), 'db00010000');
    assert.equal(
      write((w) => w.str('é')),
      'a2c3a9',
    );
    assert.equal(
      write((w) => w.rawOrNil(new Uint8Array(0))),
      'c0',
    );
  });

  it('map and array headers: fix, 16 and 32', () => {
    assert.equal(
      write((w) => w.mapHeader(15)),
      '8f',
    );
    assert.equal(
      write((w) => w.mapHeader(16)),
      'de0010',
    );
    assert.equal(
      write((w) => w.arrayHeader(70000)),
      'dd00011170',
    );
  });
});

describe('msgpack reader: what any go-msgpack writes', () => {
  it('integers: both families, every width, into a safe range', () => {
    const cases: [string, number][] = [
      ['05', 5],
      ['ccc8', 200],
      ['d100c8', 200],
      ['cd012c', 300],
      ['d2 00989680', 10_000_000],
      ['ce00989680', 10_000_000],
      ['d3 0000000000000064', 100],
      ['cf 0000000000000064', 100],
      ['ff', -1],
      ['d0df', -33],
      ['c0', 0],
    ];
    for (const [h, v] of cases) assert.equal(new MsgpackReader(bytes(h.replace(' ', ''))).integer(), v, h);
    assert.throws(
      () => new MsgpackReader(bytes('cf0020000000000000')).integer(),
      (e: unknown) => isWireError(e) && e.reason === 'limit',
    );
  });

  it('uint64: BigInt for the whole range, both families', () => {
    assert.equal(new MsgpackReader(bytes('cfffffffffffffffff')).uint64(), 0xffff_ffff_ffff_ffffn);
    assert.equal(new MsgpackReader(bytes('d37fffffffffffffff')).uint64(), 0x7fff_ffff_ffff_ffffn);
    assert.equal(new MsgpackReader(bytes('2a')).uint64(), 42n);
    assert.throws(() => new MsgpackReader(bytes('d3ffffffffffffffff')).uint64(), WireError);
  });

  it('strings and bytes: raw, str8, bin8/16/32 and nil', () => {
    for (const h of ['a3616263', 'd903616263', 'c403616263', 'c50003616263', 'c600000003616263', 'da0003616263', 'db00000003616263']) {
      assert.equal(new MsgpackReader(bytes(h)).string(), 'abc', h);
    }
    assert.equal(new MsgpackReader(bytes('c0')).string(), '');
    assert.equal(hex(new MsgpackReader(bytes('c0')).bytes()), '');
    // Invalid UTF-8 in a name never throws (Go strings are bytes).
    assert.equal(new MsgpackReader(bytes('a1ff')).string(), '\ufffd');
  });

  it('bytes() copies, bytesView() does not', () => {
    const input = bytes('a3010203');
    const copy = new MsgpackReader(input).bytes();
    const view = new MsgpackReader(input).bytesView();
    input[1] = 9;
    assert.equal(copy[0], 1);
    assert.equal(view[0], 9);
  });

  it('lengths and counts beyond the input are refused before use', () => {
    assert.throws(
      () => new MsgpackReader(bytes('dbffffffff00')).bytes(),
      (e: unknown) => isWireError(e) && e.reason === 'truncated',
    );
    assert.throws(
      () => new MsgpackReader(bytes('dfffffffff')).mapHeader(),
      (e: unknown) => isWireError(e) && e.reason === 'truncated',
    );
    assert.throws(
      () => new MsgpackReader(bytes('dcffff')).arrayHeader(),
      (e: unknown) => isWireError(e) && e.reason === 'truncated',
    );
    assert.throws(
      () => new MsgpackReader(bytes('a5616263')).string(),
      (e: unknown) => isWireError(e) && e.reason === 'truncated',
    );
  });

  it('bool: c2/c3 and the 0/1 fixnums go-msgpack 0.5 also accepts', () => {
    assert.deepEqual(
      ['c3', 'c2', '01', '00', 'c0'].map((h) => new MsgpackReader(bytes(h)).bool()),
      [true, false, true, false, false],
    );
    assert.throws(() => new MsgpackReader(bytes('05')).bool(), WireError);
  });
});

/** Arbitrary msgpack values, written by hand so every form (ext, float, bin, map32...) appears. */
const msgpackValue: fc.Arbitrary<Uint8Array> = fc.letrec<{ value: Uint8Array }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 0, max: 0x7f }).map((n) => Uint8Array.of(n)),
    fc.integer({ min: 0xe0, max: 0xff }).map((n) => Uint8Array.of(n)),
    fc.constantFrom(0xc0, 0xc2, 0xc3).map((n) => Uint8Array.of(n)),
    fc
      .tuple(fc.constantFrom(0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb), fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([b, rest]) => {
        const size = { 204: 1, 205: 2, 206: 4, 207: 8, 208: 1, 209: 2, 210: 4, 211: 8, 202: 4, 203: 8 }[b] as number;
        return Uint8Array.of(b, ...rest.subarray(0, size));
      }),
    fc.tuple(fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8), fc.uint8Array({ minLength: 17, maxLength: 17 })).map(([b, rest]) => {
      const size = { 212: 1, 213: 2, 214: 4, 215: 8, 216: 16 }[b] as number;
      return Uint8Array.of(b, ...rest.subarray(0, size + 1));
    }),
    fc.tuple(fc.constantFrom('raw', 'str8', 'bin8', 'bin16', 'raw32', 'ext8'), fc.uint8Array({ maxLength: 40 })).map(([kind, data]) => {
      const n = data.length;
      const head =
        kind === 'raw'
          ? n < 32
            ? [0xa0 | n]
            : [0xda, 0, n]
          : kind === 'str8'
            ? [0xd9, n]
            : kind === 'bin8'
              ? [0xc4, n]
              : kind === 'bin16'
                ? [0xc5, 0, n]
                : kind === 'raw32'
                  ? [0xdb, 0, 0, 0, n]
                  : [0xc7, n, 1];
      return Uint8Array.of(...head, ...data);
    }),
    fc.tuple(fc.boolean(), fc.array(tie('value'), { maxLength: 5 })).map(([wide, items]) => {
      const head = wide ? [0xdd, 0, 0, 0, items.length] : [0x90 | items.length];
      return Uint8Array.of(...head, ...items.flatMap((i) => [...i]));
    }),
    fc.tuple(fc.boolean(), fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 })).map(([wide, pairs]) => {
      const head = wide ? [0xde, 0, pairs.length] : [0x80 | pairs.length];
      return Uint8Array.of(...head, ...pairs.flatMap(([k, v]) => [...k, ...v]));
    }),
  ),
})).value;

describe('msgpack scanner: framing values in a stream', () => {
  it('scanValue finds the end of every well-formed value, and -1 for every cut prefix', () => {
    fc.assert(
      fc.property(msgpackValue, fc.uint8Array({ maxLength: 4 }), (value, trailer) => {
        const buf = Uint8Array.of(...value, ...trailer);
        assert.equal(scanValue(buf, 0, buf.length), value.length);
        for (let cut = 0; cut < value.length; cut++) assert.equal(scanValue(buf, 0, cut), -1);
      }),
      { numRuns: 400 },
    );
  });

  it('ValueScanner fed in chunks ends where the one-shot scan does', () => {
    fc.assert(
      fc.property(msgpackValue, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 50 }), (value, steps) => {
        const scanner = new ValueScanner();
        let end = 0;
        let found = -1;
        for (let i = 0; found < 0; i++) {
          end = Math.min(value.length, end + (steps[i % steps.length] as number));
          found = scanner.scan(value, 0, end);
          if (end === value.length) break;
        }
        assert.equal(found, value.length);
      }),
      { numRuns: 300 },
    );
  });

  it('nesting past the depth limit is refused, not recursed into', () => {
    const deep = new Uint8Array(10_000).fill(0x91);
    assert.throws(
      () => scanValue(deep, 0, deep.length),
      (e: unknown) => isWireError(e) && e.reason === 'limit',
    );
  });

  it('the reserved byte 0xc1 is malformed', () => {
    assert.throws(
      () => scanValue(Uint8Array.of(0x92, 0x01, 0xc1), 0, 3),
      (e: unknown) => isWireError(e) && e.reason === 'malformed',
    );
  });

  it('a claimed count costs one step per byte present, not per element claimed (ratio to an honest array)', () => {
    const n = 1 << 20;
    // Honest: an array32 of exactly n fixnums. Hostile: the same bytes claiming 4 billion elements.
    const honest = new Uint8Array(5 + n);
    honest.set([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const hostile = honest.slice();
    hostile.set([0xdd, 0xff, 0xff, 0xff, 0xff]);
    const time = (buf: Uint8Array, want: number) => {
      const start = process.hrtime.bigint();
      assert.equal(scanValue(buf, 0, buf.length), want);
      return Number(process.hrtime.bigint() - start);
    };
    const honestNs: number[] = [];
    const hostileNs: number[] = [];
    for (let i = 0; i < 5; i++) {
      honestNs.push(time(honest, honest.length));
      hostileNs.push(time(hostile, -1));
    }
    const median = (v: number[]) => v.sort((a, b) => a - b)[2] as number;
    const ratio = median(hostileNs) / median(honestNs);
    assert.ok(ratio < 4, `hostile scan cost ${ratio.toFixed(2)}x the honest one`);
  });
});
