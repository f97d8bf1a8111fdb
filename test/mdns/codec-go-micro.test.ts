/** go-micro.ts: Go Micro's exact TXT and names, and a decoder that survives anything. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import type { DecodedInstance } from '../../src/adapters/mdns/codec.js';
import { decodeGoMicroTxt, encodeGoMicroTxt, GoMicroCodec } from '../../src/adapters/mdns/go-micro.js';
import { isRollcallError, normalizeService, type Service } from '../../src/index.js';

const codec = new GoMicroCodec();
/** The codecs read TXT strings as Latin-1 text, as the browser hands them over. */
const decodeTxt = (instance: string, strings: readonly Buffer[]) =>
  codec.decode(
    instance,
    strings.map((s) => s.toString('latin1')),
  );
const decodeGoMicroBuffers = (strings: readonly Buffer[]) => decodeGoMicroTxt(strings.map((s) => s.toString('latin1')));
const make = (input: Parameters<typeof normalizeService>[0]): Service => normalizeService(input, { requireNodes: true });
const greeter = make({
  name: 'go.micro.srv.greeter',
  version: 'latest',
  metadata: { dropped: 'service metadata has no place in the format' },
  endpoints: [
    { name: 'Say.Hello', request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] } },
  ],
  nodes: [{ id: 'go.micro.srv.greeter-8b1e', address: '10.0.0.7:54321', metadata: { protocol: 'mucp', registry: 'mdns' } }],
});
const node = greeter.nodes[0] as Service['nodes'][number];

describe('go-micro codec', () => {
  it('txt: hex of zlib (default level, 78 9c) of {"Service","Version","Endpoints","Metadata"}, in 255-character strings', () => {
    const chunks = encodeGoMicroTxt(greeter, node);
    const hex = chunks.join('');
    assert.ok(hex.startsWith('789c'));
    assert.ok(/^[0-9a-f]+$/.test(hex), 'lowercase hex');
    assert.ok(chunks.slice(0, -1).every((c) => c.length === 255) && (chunks.at(-1)?.length ?? 0) <= 255);
    const txt = decodeGoMicroBuffers(chunks.map((c) => Buffer.from(c)));
    assert.deepEqual(Object.keys(txt), ['Service', 'Version', 'Endpoints', 'Metadata']);
    assert.deepEqual(txt, {
      Service: 'go.micro.srv.greeter',
      Version: 'latest',
      Endpoints: [
        {
          name: 'Say.Hello',
          request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
          response: null,
          metadata: {},
        },
      ],
      Metadata: { protocol: 'mucp', registry: 'mdns' },
    });
  });

  it('names: instance <nodeId>.<service>.micro, service <service>.micro, listing under _services.micro', () => {
    assert.equal(codec.instanceName(codec.label(greeter, node), greeter), 'go.micro.srv.greeter-8b1e.go.micro.srv.greeter.micro');
    assert.equal(codec.browseName('go.micro.srv.greeter'), 'go.micro.srv.greeter.micro');
    assert.equal(codec.browseAll, '_services.micro');
    const shared = codec.sharedRecords(greeter, 'x.go.micro.srv.greeter.micro', 120);
    assert.deepEqual(
      shared.map((r) => [r.name, r.type, r.flush]),
      [
        ['go.micro.srv.greeter.micro', 'PTR', false],
        ['_services.micro', 'PTR', false],
        ['go.micro.srv.greeter._services.micro', 'SRV', false],
        ['go.micro.srv.greeter._services.micro', 'A', false],
        ['go.micro.srv.greeter._services.micro', 'TXT', false],
      ],
    );
    assert.equal(codec.listedService('_services.micro', 'Go.Micro.Srv.Greeter._services.micro.'), 'Go.Micro.Srv.Greeter');
    assert.equal(codec.listedService('greeter.micro', 'x._services.micro'), undefined);
  });

  it('decode: node id is the instance minus .<service>.micro (case-insensitive), as Go Micro trims it', () => {
    const txt = encodeGoMicroTxt(greeter, node).map((c) => Buffer.from(c));
    const decoded = decodeTxt('Go.Micro.Srv.Greeter-8B1E.go.micro.srv.greeter.micro.', txt) as DecodedInstance;
    assert.equal(decoded.nodeId, 'Go.Micro.Srv.Greeter-8B1E');
    assert.equal(decoded.name, 'go.micro.srv.greeter');
    assert.deepEqual(decoded.metadata, {});
    assert.match(decodeTxt('elsewhere.other.micro', txt) as string, /does not end/);
  });

  it('decode: Go nil slices and maps (null) are accepted', () => {
    const hex = deflateSync(JSON.stringify({ Service: 's', Version: '', Endpoints: null, Metadata: null })).toString('hex');
    const decoded = decodeTxt('n.s.micro', [Buffer.from(hex)]) as DecodedInstance;
    assert.equal(decoded.nodeId, 'n');
    assert.equal(decoded.endpoints, null);
    const service = make({
      name: decoded.name,
      endpoints: decoded.endpoints as null,
      nodes: [{ id: decoded.nodeId, address: '10.0.0.1:1', metadata: decoded.nodeMetadata as null }],
    });
    assert.deepEqual(service.nodes[0]?.metadata, {});
  });

  it('decode: refuses garbage and a zip bomb with a reason', () => {
    assert.equal(decodeGoMicroBuffers([Buffer.from('zz')]), 'TXT is not hex');
    assert.equal(decodeGoMicroBuffers([Buffer.from('abc')]), 'TXT is not hex');
    assert.match(decodeGoMicroBuffers([Buffer.from('deadbeef')]) as string, /inflate/);
    const bomb = deflateSync(Buffer.alloc(10 * 1024 * 1024, 0x20)).toString('hex');
    assert.match(decodeGoMicroBuffers([Buffer.from(bomb)]) as string, /64 KiB/);
    assert.equal(decodeGoMicroBuffers([Buffer.from(deflateSync('[1,2]').toString('hex'))]), 'TXT JSON is not an object');
  });

  it('decode (fuzz): arbitrary TXT never throws', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 255 }),
            fc.stringMatching(/^[0-9a-f]{0,64}$/).map((s) => Buffer.from(s)),
          ),
          { maxLength: 8 },
        ),
        (list) => {
          const out = decodeTxt(
            'a.b.micro',
            list.map((b) => Buffer.from(b)),
          );
          assert.ok(typeof out === 'string' || typeof out.name === 'string');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('decode (fuzz): any compressed JSON never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const hex = deflateSync(JSON.stringify(value) ?? 'null').toString('hex');
        decodeTxt('a.b.micro', [Buffer.from(hex)]);
      }),
      { numRuns: 1000 },
    );
  });

  it('label: ids or service names that make a label over 63 bytes are refused up front, naming the limit', () => {
    const long = make({ name: 'svc', nodes: [{ id: 'x'.repeat(70), address: '10.0.0.1:1' }] });
    assert.throws(
      () => codec.label(long, long.nodes[0] as Service['nodes'][number]),
      (e) => isRollcallError(e, 'TOO_LARGE') && /63 bytes/.test((e as Error).message),
    );
  });

  it('txt: a node whose compressed JSON does not fit the packet is refused up front', () => {
    const big = make({
      name: 'svc',
      nodes: [
        {
          id: 'n',
          address: '10.0.0.1:1',
          metadata: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key-${i}`, Math.random().toString(36).repeat(12)])),
        },
      ],
    });
    assert.throws(
      () => codec.txt(big, big.nodes[0] as Service['nodes'][number], 1000),
      (e) => isRollcallError(e, 'TOO_LARGE') && /budget of 1000 bytes/.test((e as Error).message),
    );
  });
});
