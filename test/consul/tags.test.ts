import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeTags, encodeTags, type TagEndpointInput, type TagValueInput } from '../../src/adapters/consul/tags.js';

/** Tags written by Go: `compress/zlib` NewWriter (default level) over `encoding/json` output, Go 1.19. */
const fromGo = {
  version100: 'v-789c32d433d03300040000ffff02ce00ee',
  versionLatest: 'v-789cca492c492d2e01040000ffff08cc028e',
  versionEmpty: 'v-789c010000ffff00000001',
  // {"protocol":"mucp"}
  protocol: 't-789caa562a28ca2fc94fcecf51b252ca2d4d2e50aa05040000ffff46a906e2',
  // {"a\u003cb":"x\u0026y"}: Go escapes HTML characters in JSON.
  htmlEscaped: 't-789caa564a8c293530304e4e52b252aa00318dcc2a956a01010000ffff52b706cf',
  // Greeter.Hello with a request value tree, a response and {"stream":"false"}.
  greeter:
    'e-789c548d410a02310c45eff2d78307e80574ed565c04fc8a9076c62415447a771919ca741578bcfcf745914c241c8d0cdae144d519138caf4a0fa46e9c3732213ecb08dea2958e74e9f2ff74d3c39ee5b1134b556dd7b6667c998b73e86c6817ea6418989019729390f5ddc32819097751275afb050000ffff05154af9',
  // {"name":"Bare","request":null,"response":null,"metadata":null}
  bare: 'e-789caa56ca4bcc4d55b252724a2c4a55d2512a4a2d2c4d2d2e51b2ca2bcdc901718b0bf2f38a5361fcdcd492c494c4924408bf16100000ffff94ce15be',
};

/** A zlib stream built by hand with one stored (uncompressed) block, so no zlib library is involved. */
function storedZlibHex(text: string): string {
  const data = Buffer.from(text, 'utf8');
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  const len = data.length;
  const head = [0x78, 0x01, 0x01, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff];
  const adler = [(b >> 8) & 0xff, b & 0xff, (a >> 8) & 0xff, a & 0xff];
  return Buffer.concat([Buffer.from(head), data, Buffer.from(adler)]).toString('hex');
}

const hexOf = (text: string) => deflateSync(Buffer.from(text)).toString('hex');

describe('consul tags: encoding', () => {
  test('pins the bytes of our encoder (default-level zlib, lowercase hex)', () => {
    assert.deepEqual(encodeTags({ version: '1.0.0' }, {}), ['v-789c33d433d033000002ce00ee']);
    assert.deepEqual(encodeTags({}, {}), ['v-789c030000000001']);
    assert.deepEqual(encodeTags({ version: 'latest' }, { metadata: { protocol: 'mucp' } }), [
      't-789cab562a28ca2fc94fcecf51b252ca2d4d2e50aa050046a906e2',
      'v-789ccb492c492d2e010008cc028e',
    ]);
  });

  test('writes the same zlib header as Go (78 9c) on every hex tag', () => {
    const tags = encodeTags(
      { version: 'v2', endpoints: [{ name: 'A.B' }, { name: 'C.D', metadata: { x: 'y' } }] },
      { metadata: { a: '1', b: '2' } },
    );
    assert.equal(tags.length, 5);
    for (const tag of tags) assert.match(tag, /^[tev]-789c[0-9a-f]+$/);
    // Same header and same Adler-32 trailer as Go for the same JSON: only the deflate blocks differ.
    const ours = encodeTags({}, { metadata: { protocol: 'mucp' } })[0] ?? '';
    assert.equal(ours.slice(0, 6), fromGo.protocol.slice(0, 6));
    assert.equal(ours.slice(-8), fromGo.protocol.slice(-8));
  });

  test('one t- tag per pair with sorted keys, then endpoints, then the version', () => {
    const tags = encodeTags(
      { version: '1', endpoints: [{ name: 'Svc.Call', request: { name: 'Req', type: 'Req' } }] },
      { metadata: { zeta: 'z', alpha: 'a' } },
    );
    assert.deepEqual(tags, [
      `t-${hexOf('{"alpha":"a"}')}`,
      `t-${hexOf('{"zeta":"z"}')}`,
      `e-${hexOf('{"name":"Svc.Call","request":{"name":"Req","type":"Req","values":null},"response":null,"metadata":null}')}`,
      `v-${hexOf('1')}`,
    ]);
  });
});

describe('consul tags: decoding', () => {
  test('reads tags written by Go', () => {
    const d = decodeTags([fromGo.protocol, fromGo.htmlEscaped, fromGo.greeter, fromGo.bare, fromGo.version100]);
    assert.equal(d.dropped, 0);
    assert.equal(d.version, '1.0.0');
    assert.deepEqual(d.metadata, { protocol: 'mucp', 'a<b': 'x&y' });
    assert.deepEqual(d.endpoints, [
      {
        name: 'Greeter.Hello',
        request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
        response: { name: 'Response', type: 'Response', values: null },
        metadata: { stream: 'false' },
      },
      { name: 'Bare', request: null, response: null, metadata: {} },
    ]);
    assert.equal(decodeTags([fromGo.versionLatest]).version, 'latest');
    assert.equal(decodeTags([fromGo.versionEmpty]).version, '');
  });

  test('reads a hand-built stored-block zlib stream', () => {
    const d = decodeTags([`t-${storedZlibHex('{"k":"v"}')}`, `V-x`, `v-${storedZlibHex('3.2.1').toUpperCase()}`]);
    assert.deepEqual(d, { metadata: { k: 'v' }, endpoints: [], version: '3.2.1', dropped: 0 });
  });

  test('reads the legacy plain forms', () => {
    const d = decodeTags(['t={"region":"eu"}', 'e={"name":"X.Y","metadata":{"a":"b"}}', 'v=0.9']);
    assert.deepEqual(d, {
      metadata: { region: 'eu' },
      endpoints: [{ name: 'X.Y', request: null, response: null, metadata: { a: 'b' } }],
      version: '0.9',
      dropped: 0,
    });
  });

  test('uses the first decodable form per kind, so entries written in both forms count once', () => {
    const d = decodeTags([
      'e={"name":"Old"}',
      `e-${hexOf('{"name":"Old"}')}`,
      `t-${hexOf('{"a":"new"}')}`,
      't={"a":"old","b":"old"}',
      'v=1',
      `v-${hexOf('2')}`,
    ]);
    assert.deepEqual(
      d.endpoints.map((e) => e.name),
      ['Old'],
    );
    assert.deepEqual(d.metadata, { a: 'new' });
    assert.equal(d.version, '1');
    assert.equal(d.dropped, 0);
  });

  test('ignores tags that are not codec tags and reports no version when there is none', () => {
    const d = decodeTags(['', 'v', 'traefik.enable=true', 'test', 'x-1', 'tag', 'urlprefix-/']);
    assert.deepEqual(d, { metadata: {}, endpoints: [], dropped: 0 });
    assert.equal('version' in d, false);
  });

  test('accepts null maps, null values, null slices and Go-style field case', () => {
    const d = decodeTags([
      't=null',
      't={"k":null}',
      `e-${hexOf('{"Name":"N","REQUEST":{"Name":"r","Values":[null,{"name":"x"}]},"metadata":{"m":null}}')}`,
    ]);
    assert.deepEqual(d.metadata, { k: '' });
    assert.deepEqual(d.endpoints, [
      {
        name: 'N',
        request: { name: 'r', type: '', values: [{ name: 'x', type: '', values: null }] },
        response: null,
        metadata: { m: '' },
      },
    ]);
    assert.equal(d.dropped, 0);
  });

  test('drops and counts malformed codec tags without throwing', () => {
    let deep = '{"name":"leaf"}';
    for (let i = 0; i < 40; i++) deep = `{"name":"n","values":[${deep}]}`;
    const bad = [
      'v-zz',
      'v-789',
      `v-${hexOf('x').slice(0, -2)}`,
      `t-${hexOf('not json')}`,
      `t-${hexOf('["a","b"]')}`,
      `t-${hexOf('{"n":1}')}`,
      't={',
      `e-${hexOf('null')}`,
      `e-${hexOf('{"name":5}')}`,
      `e-${hexOf('{"name":"x","request":"str"}')}`,
      `e-${hexOf('{"name":"x","request":{"values":{}}}')}`,
      `e-${hexOf(`{"name":"deep","request":${deep}}`)}`,
      `t-${deflateSync(Buffer.alloc(2 << 20, 0x20)).toString('hex')}`,
    ];
    const d = decodeTags([...bad, 'v=ok']);
    assert.deepEqual(d, { metadata: {}, endpoints: [], version: 'ok', dropped: bad.length });
  });

  test('keeps a "__proto__" key as data', () => {
    const d = decodeTags([`t-${hexOf('{"__proto__":"x"}')}`, 'e={"name":"p","metadata":{"__proto__":"y"}}']);
    assert.equal(Object.getPrototypeOf(d.metadata), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(d.metadata, '__proto__')?.value, 'x');
    assert.equal(Object.getOwnPropertyDescriptor(d.endpoints[0]?.metadata, '__proto__')?.value, 'y');
  });
});

const key = fc.string({ maxLength: 12 });
const stringMap = fc.dictionary(key, fc.string({ maxLength: 20 }), { maxKeys: 5, noNullPrototype: true });
const { value: valueArb } = fc.letrec<{ value: TagValueInput }>((tie) => ({
  value: fc.record({
    name: fc.string({ maxLength: 10 }),
    type: fc.string({ maxLength: 10 }),
    values: fc.option(fc.array(tie('value'), { maxLength: 3 }), { depthSize: 'small', nil: null }),
  }),
}));
const endpointArb: fc.Arbitrary<TagEndpointInput> = fc.record({
  name: fc.string({ maxLength: 20 }),
  request: fc.option(valueArb, { nil: null }),
  response: fc.option(valueArb, { nil: null }),
  metadata: fc.option(stringMap, { nil: null }),
});
const codecPrefix = fc.constantFrom('t-', 't=', 'e-', 'e=', 'v-', 'v=');
const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg'), maxLength: 80 });

function assertWellFormed(tags: string[]): void {
  const d = decodeTags(tags);
  assert.ok(d.dropped >= 0 && d.dropped <= tags.length);
  assert.ok(d.version === undefined || typeof d.version === 'string');
  for (const v of Object.values(d.metadata)) assert.equal(typeof v, 'string');
  for (const e of d.endpoints) assert.equal(typeof e.name, 'string');
}

describe('consul tags: properties', () => {
  test('round-trips services and node metadata', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), stringMap, fc.array(endpointArb, { maxLength: 4 }), (version, md, eps) => {
        const d = decodeTags(encodeTags({ version, endpoints: eps }, { metadata: md }));
        assert.equal(d.dropped, 0);
        assert.equal(d.version, version ?? '');
        assert.deepEqual(d.metadata, { ...md });
        const norm = (v: TagValueInput | null | undefined): unknown =>
          v ? { name: v.name, type: v.type, values: v.values ? v.values.map(norm) : null } : null;
        assert.deepEqual(
          d.endpoints,
          eps.map((e) => ({ name: e.name, request: norm(e.request), response: norm(e.response), metadata: { ...e.metadata } })),
        );
      }),
      { numRuns: 300 },
    );
  });

  test('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'binary' }),
            fc.tuple(codecPrefix, fc.string()).map(([p, s]) => p + s),
          ),
        ),
        (tags) => assertWellFormed(tags),
      ),
      { numRuns: 1000 },
    );
  });

  test('never throws on arbitrary hex', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(codecPrefix, hex).map(([p, h]) => p + h)), (tags) => assertWellFormed(tags)),
      { numRuns: 1000 },
    );
  });

  test('never throws on valid zlib around arbitrary bytes or JSON', () => {
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 4 }).map((j) => Buffer.from(JSON.stringify(j) ?? 'null')),
      fc.string().map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(codecPrefix, payload)), (items) => {
        const tags = items.map(([p, b]) => (p.endsWith('-') ? p + deflateSync(b).toString('hex') : p + b.toString('utf8')));
        assertWellFormed(tags);
      }),
      { numRuns: 1000 },
    );
  });
});
