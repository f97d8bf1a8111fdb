/** dns-sd.ts: key=value TXT that avahi can read and that round-trips every service rollcall accepts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type DecodedInstance, txtBytes } from '../../src/adapters/mdns/codec.js';
import { DnsSdCodec, escapeKey, keyValue, parseTxt, TXT_BUDGET, unescapeKey } from '../../src/adapters/mdns/dns-sd.js';
import { isRollcallError, normalizeService, type Service } from '../../src/index.js';

const codec = new DnsSdCodec();
/** The codecs read TXT strings as Latin-1 text, as the browser hands them over. */
const decodeTxt = (instance: string, strings: readonly Buffer[]) =>
  codec.decode(
    instance,
    strings.map((s) => s.toString('latin1')),
  );
const make = (input: Parameters<typeof normalizeService>[0]): Service => normalizeService(input, { requireNodes: true });
const greeter = make({
  name: 'greeter',
  version: '1.2.3',
  metadata: { team: 'core' },
  endpoints: [{ name: 'Greeter.Hello', request: { name: 'Request', type: 'Request', values: null } }],
  nodes: [{ id: 'greeter-1', address: '10.0.0.7:8080', metadata: { protocol: 'http', Zone: 'eu=1' } }],
});
const node = (s: Service) => s.nodes[0] as Service['nodes'][number];
const strings = (list: Buffer[]) => list.map((b) => b.toString());

describe('dns-sd codec: TXT', () => {
  it('txt: readable key=value strings, txtvers first, metadata keys escaped only where needed', () => {
    const txt = strings(codec.txt(greeter, node(greeter), TXT_BUDGET));
    assert.equal(txt[0], 'txtvers=1');
    assert.ok(txt.includes('name=greeter') && txt.includes('version=1.2.3') && txt.includes('id=greeter-1'));
    assert.ok(txt.includes('s.team=core') && txt.includes('n.protocol=http'));
    assert.ok(txt.includes('n.%5Aone=eu=1'), 'uppercase escaped (keys compare case-insensitively), "=" in values kept');
    assert.ok(txt.includes('endpoints=1'));
    assert.ok(txt.some((s) => s.startsWith('e.0={"name":"Greeter.Hello"')));
  });

  it('txt: decodes back to the same service', () => {
    const decoded = decodeTxt('greeter-1._rollcall._tcp.local', codec.txt(greeter, node(greeter), TXT_BUDGET)) as DecodedInstance;
    const back = make({
      name: decoded.name,
      version: decoded.version,
      metadata: decoded.metadata as Record<string, string>,
      endpoints: decoded.endpoints as [],
      nodes: [{ id: decoded.nodeId, address: '10.0.0.7:8080', metadata: decoded.nodeMetadata as Record<string, string> }],
    });
    assert.deepEqual(back, greeter);
  });

  it('txt: values longer than a TXT string continue in key+1, key+2', () => {
    const parts = strings(keyValue('n.k', 'v'.repeat(600)));
    assert.deepEqual(
      parts.map((p) => p.slice(0, p.indexOf('='))),
      ['n.k', 'n.k+1', 'n.k+2'],
    );
    assert.ok(parts.every((p) => Buffer.byteLength(p) <= 255));
    const long = make({
      name: 'n'.repeat(255),
      nodes: [{ id: 'i'.repeat(255), address: '10.0.0.1:1', metadata: { big: 'é'.repeat(256) } }],
    });
    const decoded = decodeTxt('x._rollcall._tcp.local', codec.txt(long, node(long), TXT_BUDGET)) as DecodedInstance;
    assert.equal(decoded.name, long.name);
    assert.equal(decoded.nodeId, node(long).id);
    assert.deepEqual(decoded.nodeMetadata, { big: 'é'.repeat(256) });
  });

  it('txt: endpoints go only while they fit; the rest of the node always does or the node is refused', () => {
    const many = make({
      name: 'api',
      endpoints: Array.from({ length: 40 }, (_, i) => ({ name: `Api.Method${i}`, request: { name: 'Req', type: 'Req', values: null } })),
      nodes: [{ id: 'api-1', address: '10.0.0.1:1' }],
    });
    const txt = codec.txt(many, node(many), TXT_BUDGET);
    assert.ok(txtBytes(txt) <= TXT_BUDGET);
    const decoded = decodeTxt('api-1._rollcall._tcp.local', txt) as DecodedInstance;
    assert.ok((decoded.endpoints as unknown[]).length > 0 && (decoded.endpoints as unknown[]).length < 40);
    assert.ok(strings(txt).includes('endpoints=40'), 'the count says how many exist');
    const fat = make({
      name: 'fat',
      nodes: [
        { id: 'f', address: '10.0.0.1:1', metadata: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(300)])) },
      ],
    });
    assert.throws(
      () => codec.txt(fat, node(fat), TXT_BUDGET),
      (e) => isRollcallError(e, 'TOO_LARGE') && /1300 bytes/.test((e as Error).message),
    );
  });

  it('decode: reads what avahi-publish writes (first key wins, keys case-insensitive, no endpoints)', () => {
    const txt = ['txtvers=1', 'NAME=greeter', 'name=ignored', 'id=avahi-1', 'n.protocol=http', 'flag', '=nokey'].map((s) => Buffer.from(s));
    const decoded = decodeTxt('avahi-1._rollcall._tcp.local', txt) as DecodedInstance;
    assert.equal(decoded.name, 'greeter');
    assert.equal(decoded.nodeId, 'avahi-1');
    assert.equal(decoded.version, '');
    assert.deepEqual(decoded.nodeMetadata, { protocol: 'http' });
  });

  it('decode: keys fold case for ASCII only, so a raw UTF-8 key from another publisher keeps its bytes', () => {
    const txt = ['txtvers=1', 'name=greeter', 'id=n1', 'n.Größe=L', 'N.GRÖSSE=x'].map((s) => Buffer.from(s));
    const decoded = decodeTxt('n1._rollcall._tcp.local', txt) as DecodedInstance;
    assert.equal(typeof decoded, 'object', String(decoded));
    assert.deepEqual(decoded.nodeMetadata, { größe: 'L', grÖsse: 'x' });
  });

  it('decode: refuses what is not ours with a reason', () => {
    const reason = (list: string[]) =>
      decodeTxt(
        'x',
        list.map((s) => Buffer.from(s)),
      );
    assert.equal(reason(['name=x', 'id=y']), 'TXT without txtvers');
    assert.match(reason(['txtvers=2', 'name=x', 'id=y']) as string, /unsupported txtvers/);
    assert.equal(reason(['txtvers=1', 'name=x']), 'TXT without name or id');
    assert.match(reason(['txtvers=1', 'name=x', 'id=y', 'e.0={bad']) as string, /unreadable endpoint/);
    assert.match(
      decodeTxt('x', [Buffer.from('txtvers=1'), Buffer.from('name=x'), Buffer.from([0x69, 0x64, 0x3d, 0xff])]) as string,
      /name or id/,
    );
  });

  it('decode (fuzz): arbitrary TXT strings never throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 255 }), { maxLength: 30 }), fc.boolean(), (list, withVersion) => {
        const txt = list.map((b) => Buffer.from(b));
        if (withVersion) txt.unshift(Buffer.from('txtvers=1'));
        const out = decodeTxt('x._rollcall._tcp.local', txt);
        assert.ok(typeof out === 'string' || typeof out.name === 'string');
      }),
      { numRuns: 3000 },
    );
  });

  it('round trip (fuzz): any valid service survives encode then decode', () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });
    const meta = fc.dictionary(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(text, fc.string({ maxLength: 10 }), text, meta, meta, (name, version, id, m1, m2) => {
        let service: Service;
        try {
          service = make({ name, version, metadata: m1, nodes: [{ id, address: '10.0.0.1:80', metadata: m2 }] });
        } catch {
          return; // not a valid service in the first place
        }
        const decoded = decodeTxt('x._rollcall._tcp.local', codec.txt(service, node(service), TXT_BUDGET)) as DecodedInstance;
        assert.equal(decoded.name, service.name);
        assert.equal(decoded.version, service.version);
        assert.equal(decoded.nodeId, node(service).id);
        assert.deepEqual(decoded.metadata, { ...service.metadata });
        assert.deepEqual(decoded.nodeMetadata, { ...node(service).metadata });
      }),
      { numRuns: 1500 },
    );
  });

  it('keys: escape and unescape are inverse; parseTxt sees no "=" inside an escaped key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), (key) => {
        const escaped = escapeKey(key);
        assert.ok(/^[\x21-\x7e]+$/.test(escaped) && !/[=+A-Z]/.test(escaped.replace(/%[0-9A-F]{2}/g, '')));
        assert.equal(unescapeKey(escaped.toLowerCase()), key);
        assert.equal(
          parseTxt([Buffer.from(`n.${escaped}=v`)])
            .get(`n.${escaped}`.toLowerCase())
            ?.toString(),
          'v',
        );
      }),
    );
  });
});
