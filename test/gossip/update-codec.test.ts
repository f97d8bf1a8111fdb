/**
 * Go Micro's `gossip.Update` codec, Service JSON and push/pull state: protobuf rules (proto3 zero
 * values, last value wins, unknown fields skipped, UTF-8 strings), Go's JSON habits (null, key
 * case, HTML escapes), rollcall's stamp keys, and hostile input that must fail typed and cheaply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeGoState, encodeGoState } from '../../src/adapters/gossip/registry/service-json.js';
import {
  decodeUpdate,
  encodeUpdate,
  goMicroUpdateMetadata,
  readStamp,
  STAMP_KEY,
  serviceFromGoJson,
  serviceToGoJson,
  stampMetadata,
  type Update,
  UpdateAction,
  UpdateType,
} from '../../src/adapters/gossip/registry/update.js';
import { isWireError } from '../../src/adapters/gossip/wire/errors.js';
import { isRollcallError } from '../../src/errors.js';
import { normalizeService } from '../../src/service.js';
import { goMicroFixtures } from './fixtures/go-micro-golden.js';

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => new TextEncoder().encode(s);

/** Written by hand from the protobuf encoding rules (tags 08 10 18 32 3a), not by our encoder. */
const goMicroCreate = {
  hex: '088080a8b1e39fe7cb171001180232200a0c436f6e74656e742d5479706512106170706c69636174696f6e2f6a736f6e3a0c7b226e616d65223a2261227d',
  update: {
    expires: 1700000000000000000n,
    type: UpdateType.service,
    action: UpdateAction.delete,
    metadata: { 'Content-Type': 'application/json' },
    data: text('{"name":"a"}'),
  } satisfies Update,
};

function sameUpdate(actual: Update, expected: Update): void {
  assert.equal(actual.expires, expected.expires);
  assert.equal(actual.type, expected.type);
  assert.equal(actual.action, expected.action);
  assert.deepEqual({ ...actual.metadata }, { ...expected.metadata });
  assert.equal(toHex(actual.data), toHex(expected.data));
}

function wireReason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isWireError(error), `expected a WireError, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('expected a WireError');
}

describe('gossip.Update protobuf', () => {
  it('encodes and decodes a hand-written Go Micro update byte for byte', () => {
    assert.equal(toHex(encodeUpdate(goMicroCreate.update)), goMicroCreate.hex);
    sameUpdate(decodeUpdate(hex(goMicroCreate.hex)), goMicroCreate.update);
  });

  it("decodes the bytes Go's protobuf runtime wrote (fixtures) and re-encodes them byte for byte", () => {
    assert.ok(goMicroFixtures.length >= 5);
    for (const f of goMicroFixtures) {
      const u = decodeUpdate(hex(f.hex));
      assert.deepEqual(
        { expires: u.expires.toString(), type: u.type, action: u.action, metadata: { ...u.metadata }, data: toHex(u.data) },
        f.update,
        f.name,
      );
      assert.equal(toHex(encodeUpdate(u)), f.hex, f.name);
    }
  });

  it('leaves proto3 zero values out and decodes an empty message as all zero', () => {
    const empty: Update = { expires: 0n, type: 0, action: 0, metadata: {}, data: new Uint8Array(0) };
    assert.equal(encodeUpdate(empty).length, 0);
    sameUpdate(decodeUpdate(new Uint8Array(0)), empty);
  });

  it('writes a negative int32 as ten bytes and reads the low 32 bits of any varint', () => {
    const bytes = encodeUpdate({ expires: 0n, type: 0, action: -1, metadata: {}, data: new Uint8Array(0) });
    assert.equal(toHex(bytes), '18ffffffffffffffffff01');
    assert.equal(decodeUpdate(bytes).action, -1);
    // 2^32 + 3 as an int32 field is 3, as Go's int32(v) gives.
    assert.equal(decodeUpdate(hex('1883808080 10'.replace(' ', ''))).action, 3);
  });

  it('sorts metadata keys by bytes, keeps empty keys and values inside an entry', () => {
    const u: Update = { expires: 5n, type: 1, action: 1, metadata: { b: '', a: 'x', '': 'e' }, data: text('{}') };
    const bytes = encodeUpdate(u);
    assert.equal(toHex(bytes), '08051001180132050a001201653206 0a0161120178 32050a01621200 3a027b7d'.replaceAll(' ', ''));
    assert.deepEqual(Object.keys(decodeUpdate(bytes).metadata), ['', 'a', 'b']);
    sameUpdate(decodeUpdate(bytes), u);
  });

  it('skips unknown fields of every wire type, groups included, and keeps the last repeated value', () => {
    const unknown = '2001' + '2d01020304' + '2901020304050607 08'.replace(' ', '') + '2a03616263' + '23 2001 2b 2c 24'.replaceAll(' ', '');
    const bytes = hex(`0801${unknown}0802${goMicroCreate.hex}`);
    sameUpdate(decodeUpdate(bytes), goMicroCreate.update);
    // A known field number with another wire type is skipped too (Go stores it as unknown).
    assert.equal(decodeUpdate(hex('0d01020304')).expires, 0n);
  });

  it('reads map entries with a missing key or value as "" and unknown entry fields skipped', () => {
    assert.deepEqual({ ...decodeUpdate(hex('3203120178')).metadata }, { '': 'x' });
    assert.deepEqual({ ...decodeUpdate(hex('32050a017818 01'.replace(' ', ''))).metadata }, { x: '' });
    const proto = decodeUpdate(hex('320d0a095f5f70726f746f5f5f1200')).metadata;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.keys(proto), ['__proto__']);
  });

  it('refuses truncation, overflow, bad UTF-8, field 0, bad groups and size limits with typed reasons', () => {
    assert.equal(
      wireReason(() => decodeUpdate(hex('08'))),
      'truncated',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('3a05616263'))),
      'truncated',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('08ffffffffffffffffff02'))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('08ffffffffffffffffffff01'))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('320412 02c328'.replace(' ', '')))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('0001'))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('2324'.replace('24', '2c')))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('0f'))),
      'malformed',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('3affffffff0f'))),
      'limit',
    );
    assert.equal(
      wireReason(() => decodeUpdate(new Uint8Array(33), { maxBytes: 32 })),
      'limit',
    );
    assert.equal(
      wireReason(() => decodeUpdate(hex('23'.repeat(40)))),
      'limit',
    );
    const many = '32020a00'.repeat(3);
    assert.equal(Object.keys(decodeUpdate(hex(many), { maxMetadataEntries: 3 }).metadata).length, 1);
    assert.equal(
      wireReason(() => decodeUpdate(hex(`${many}32020a00`), { maxMetadataEntries: 3 })),
      'limit',
    );
  });

  it('refuses to encode values outside their protobuf types', () => {
    const base = goMicroCreate.update;
    assert.throws(() => encodeUpdate({ ...base, expires: -1n }), RangeError);
    assert.throws(() => encodeUpdate({ ...base, expires: 1n << 64n }), RangeError);
    assert.throws(() => encodeUpdate({ ...base, action: 2 ** 31 }), RangeError);
    assert.throws(() => encodeUpdate({ ...base, type: 1.5 }), RangeError);
  });

  it('round-trips random updates', () => {
    const update = fc.record({
      expires: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      type: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      action: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      metadata: fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), { maxKeys: 8 }),
      data: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(update, (u) => {
        const bytes = encodeUpdate(u);
        sameUpdate(decodeUpdate(bytes), u);
        assert.equal(toHex(encodeUpdate(decodeUpdate(bytes))), toHex(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('gossip.Update under hostile input', () => {
  it('random and mutated bytes yield an update or a WireError, nothing else', () => {
    const seed = encodeUpdate({ ...goMicroCreate.update, metadata: stampMetadata({ origin: 'n1', seq: 7n, ttlMs: 90_000 }) });
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(seed.length))
      .map(([flips, cut]) => {
        const copy = seed.slice(0, cut);
        for (const [at, value] of flips) if (at < copy.length) copy[at] = value;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
        try {
          const u = decodeUpdate(bytes);
          assert.ok(u.data.length <= bytes.length);
          assert.ok(Object.keys(u.metadata).length <= bytes.length / 2);
        } catch (error) {
          assert.ok(isWireError(error), `not a WireError: ${String(error)}`);
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it('a hostile update costs no more per byte than receiving an honest one of the same size', (t) => {
    // The honest baseline is what a receiver does with every update: decode it and parse its Service.
    const big = normalizeService({
      name: 'big',
      endpoints: Array.from({ length: 200 }, (_, i) => ({
        name: `E.m${i}`,
        request: { name: 'r', type: 'T', values: null },
        metadata: { i: String(i) },
      })),
      nodes: [{ id: 'n', address: '10.0.0.1:1' }],
    });
    const honest = encodeUpdate({ ...goMicroCreate.update, data: serviceToGoJson(big) });
    const receive = (bytes: Uint8Array) => serviceFromGoJson(decodeUpdate(bytes).data);
    // The same size, made of what is most work per byte: 2-byte unknown varint fields, and deep empty groups.
    const fields = hex('2000'.repeat(Math.floor(honest.length / 2)));
    const groups = hex(`${'23'.repeat(31)}${'24'.repeat(31)}`.repeat(Math.floor(honest.length / 62)));
    const time = (fn: () => unknown) => {
      let best = Number.POSITIVE_INFINITY;
      for (let round = 0; round < 5; round++) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < 10; i++) {
          try {
            fn();
          } catch {}
        }
        best = Math.min(best, Number(process.hrtime.bigint() - start));
      }
      return best;
    };
    const base = time(() => receive(honest));
    const fieldsRatio = time(() => decodeUpdate(fields)) / base;
    const groupsRatio = time(() => decodeUpdate(groups)) / base;
    t.diagnostic(`hostile/honest time: unknown fields ${fieldsRatio.toFixed(2)}x, groups ${groupsRatio.toFixed(2)}x`);
    assert.ok(fieldsRatio < 8, `unknown fields cost ${fieldsRatio.toFixed(2)}x an honest update`);
    assert.ok(groupsRatio < 8, `groups cost ${groupsRatio.toFixed(2)}x an honest update`);
  });
});

describe('rollcall stamp in Update.metadata', () => {
  it('one entry beside Go Micro metadata: every field in base 36, the origin last; read back from the wire', () => {
    const stamp = {
      origin: 'node.a',
      seq: 18446744073709551615n,
      ttlMs: 90_000,
      claim: 1_765_000_000_000,
      prev: 41,
      incarnation: 370_332_246,
    };
    const metadata = stampMetadata(stamp);
    // 90000 = 1xg0 in base 36, 41 = 15, the uint64 maximum = 3w5e11264sgsf.
    assert.deepEqual(metadata, {
      ...goMicroUpdateMetadata,
      [STAMP_KEY]: `3w5e11264sgsf.1xg0.${(1_765_000_000_000).toString(36)}.15.${(370_332_246).toString(36)}.node.a`,
    });
    assert.deepEqual(readStamp(metadata), stamp);
    const wire = decodeUpdate(encodeUpdate({ ...goMicroCreate.update, metadata })).metadata;
    assert.deepEqual(readStamp(wire), stamp);
    // Absent optional fields stay absent.
    assert.deepEqual(readStamp(stampMetadata({ origin: 'n', seq: 0n, ttlMs: 0 })), {
      origin: 'n',
      seq: 0n,
      ttlMs: 0,
      claim: undefined,
      prev: undefined,
      incarnation: undefined,
    });
  });

  it('reads no stamp from a Go Micro update and refuses a malformed one', () => {
    assert.equal(readStamp(goMicroUpdateMetadata), undefined);
    for (const bad of [
      '1.1...',
      '1.1....',
      '1.1...n',
      '-1.1....n',
      '3w5e11264sgsg.1....n',
      '01.1....n',
      '1.1.5.x!...n',
      '1..1...n',
      '1.1.zzzzzzzzzzz...n',
      `1.1....${'o'.repeat(513)}`,
      'garbage',
    ]) {
      assert.equal(
        wireReason(() => readStamp({ ...goMicroUpdateMetadata, [STAMP_KEY]: bad })),
        'malformed',
        bad,
      );
    }
    assert.throws(() => stampMetadata({ origin: '', seq: 1n, ttlMs: 1 }), RangeError);
    assert.throws(() => stampMetadata({ origin: 'n', seq: -1n, ttlMs: 1 }), RangeError);
    assert.throws(() => stampMetadata({ origin: 'n', seq: 1n, ttlMs: 1.5 }), RangeError);
  });
});

const fullService = normalizeService({
  name: 'go.micro.srv.greeter',
  version: '1.0.0',
  metadata: { b: '<&>', a: '\u2028' },
  endpoints: [
    {
      name: 'Say.Hello',
      request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
      response: null,
      metadata: { stream: 'false' },
    },
  ],
  nodes: [{ id: 'greeter-1', address: '10.0.0.1:8080', metadata: { protocol: 'mucp' } }],
});

describe('Go Micro Service JSON', () => {
  it("writes Go's field order, sorted maps and HTML-safe escapes", () => {
    const json = new TextDecoder().decode(serviceToGoJson(fullService));
    assert.equal(
      json,
      '{"name":"go.micro.srv.greeter","version":"1.0.0","metadata":{"a":"\\u2028","b":"\\u003c\\u0026\\u003e"},' +
        '"endpoints":[{"name":"Say.Hello","request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},' +
        '"response":null,"metadata":{"stream":"false"}}],"nodes":[{"id":"greeter-1","address":"10.0.0.1:8080","metadata":{"protocol":"mucp"}}]}',
    );
    assert.deepEqual(serviceFromGoJson(serviceToGoJson(fullService)), fullService);
  });

  it("reads Go's nulls, capitalised keys and unknown keys", () => {
    const service = serviceFromGoJson(
      text(
        '{"Name":"s","version":null,"metadata":null,"endpoints":null,"extra":1,' +
          '"nodes":[{"ID":"n1","Address":"[::1]:80","metadata":{"k":null}}]}',
      ),
    );
    assert.deepEqual(service, normalizeService({ name: 's', nodes: [{ id: 'n1', address: '[::1]:80', metadata: { k: '' } }] }));
  });

  it('refuses what is not a Service with INVALID_SERVICE, oversize with TOO_LARGE', () => {
    for (const bad of [
      '',
      'nul',
      '[]',
      '"s"',
      '{}',
      '{"name":1}',
      '{"name":"s","nodes":[{"id":"n","address":"nowhere"}]}',
      '{"name":"s","metadata":{"a":1}}',
    ]) {
      assert.ok(
        isRollcallError(
          catchError(() => serviceFromGoJson(text(bad))),
          'INVALID_SERVICE',
        ),
        bad,
      );
    }
    assert.ok(
      isRollcallError(
        catchError(() => serviceFromGoJson(hex('7bff7d'))),
        'INVALID_SERVICE',
      ),
    );
    assert.ok(
      isRollcallError(
        catchError(() => serviceFromGoJson(serviceToGoJson(fullService), { maxBytes: 10 })),
        'TOO_LARGE',
      ),
    );
  });

  it('random bytes and mutated JSON fail only with RollcallError', () => {
    const seed = new TextDecoder().decode(serviceToGoJson(fullService));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc
            .tuple(fc.nat(seed.length), fc.nat(seed.length), fc.string({ maxLength: 5 }))
            .map(([a, b, s]) => text(seed.slice(0, a) + s + seed.slice(b))),
        ),
        (bytes) => {
          const error = catchError(() => serviceFromGoJson(bytes));
          assert.ok(error === undefined || isRollcallError(error), String(error));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe('Go Micro push/pull state', () => {
  const other = normalizeService({ name: 'a', nodes: [{ id: 'a1', address: '10.0.0.2:1' }] });
  const v2 = normalizeService({ ...fullService, version: '2.0.0' });

  it('writes map[name][]Service with names sorted and reads it back', () => {
    const bytes = encodeGoState([fullService, other, v2]);
    const json = new TextDecoder().decode(bytes);
    assert.ok(json.startsWith('{"a":[{"name":"a",'), json);
    assert.ok(json.includes('"go.micro.srv.greeter":[{'), json);
    assert.deepEqual(decodeGoState(bytes), { services: [other, fullService, v2], dropped: 0 });
    assert.equal(new TextDecoder().decode(encodeGoState([])), '{}');
  });

  it("reads Go's null state and drops bad entries one by one, counted", () => {
    assert.deepEqual(decodeGoState(text('null')), { services: [], dropped: 0 });
    assert.deepEqual(decodeGoState(new Uint8Array(0)), { services: [], dropped: 0 });
    const mixed = `{"a":[${new TextDecoder().decode(serviceToGoJson(other))},{"name":1},null],"b":5,"x":[${new TextDecoder().decode(serviceToGoJson(other))}],"n":null}`;
    assert.deepEqual(decodeGoState(text(mixed)), { services: [other], dropped: 4 });
  });

  it('refuses a state that is not an object, too large, or listing too many services', () => {
    assert.ok(
      isRollcallError(
        catchError(() => decodeGoState(text('[1]'))),
        'INVALID_SERVICE',
      ),
    );
    assert.ok(
      isRollcallError(
        catchError(() => decodeGoState(text('{"a":'))),
        'INVALID_SERVICE',
      ),
    );
    assert.ok(
      isRollcallError(
        catchError(() => decodeGoState(text('{}'), { maxBytes: 1 })),
        'TOO_LARGE',
      ),
    );
    assert.ok(
      isRollcallError(
        catchError(() => decodeGoState(text('{"a":[1,2,3]}'), { maxServices: 2 })),
        'TOO_LARGE',
      ),
    );
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
