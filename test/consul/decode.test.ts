/** Decoding Consul answers: Go Micro tags into services, duplicates after failover, health, and fuzzing. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeCatalogServices,
  decodeChecks,
  decodeHealth,
  decodeMembers,
  HEALTH_METADATA_KEY,
  ShapeError,
} from '../../src/adapters/consul/decode.js';
import { encodeServiceMetadata, encodeTags } from '../../src/adapters/consul/tags.js';

const tags = (version: string, md: Record<string, string> = {}, endpoints: Array<{ name: string }> = []) =>
  encodeTags({ version, endpoints }, { metadata: md });

function entry(
  id: string,
  opts: {
    node?: string;
    version?: string;
    md?: Record<string, string>;
    modify?: number;
    checks?: string[];
    address?: string;
    extraTags?: string[];
  } = {},
) {
  return {
    Node: { Node: opts.node ?? 'n1', Address: '10.0.0.9' },
    Service: {
      ID: id,
      Service: 'web',
      Tags: [...tags(opts.version ?? '1.0.0', opts.md ?? { protocol: 'http' }), ...(opts.extraTags ?? [])],
      Address: opts.address ?? '10.0.0.1',
      Port: 8080,
      Meta: {},
      ModifyIndex: opts.modify ?? 10,
    },
    Checks: (opts.checks ?? ['passing']).map((Status, i) => ({ CheckID: `c${i}`, Status })),
  };
}

describe('decode: health', () => {
  test('health: groups instances by version; newest registration describes the version', () => {
    const body = [
      entry('a', { version: '1.0.0', modify: 5, extraTags: encodeServiceMetadata({ team: 'old' }) }),
      entry('b', { version: '1.0.0', modify: 9, extraTags: encodeServiceMetadata({ team: 'new' }) }),
      entry('c', { version: '2.0.0' }),
    ];
    const { services, dropped, consulNodes } = decodeHealth('web', body, false);
    assert.equal(dropped, 0);
    assert.deepEqual([...consulNodes], ['n1']);
    const v1 = services.find((s) => s.version === '1.0.0');
    assert.deepEqual(
      v1?.nodes.map((n) => n.id),
      ['a', 'b'],
    );
    assert.deepEqual(v1?.metadata, { team: 'new' });
    assert.ok(Object.isFrozen(v1) && Object.isFrozen(v1?.nodes));
    assert.deepEqual(
      services.find((s) => s.version === '2.0.0')?.nodes.map((n) => n.address),
      ['10.0.0.1:8080'],
    );
  });

  test('health: one service ID on two Consul nodes (a failover) is one node, the newest', () => {
    const body = [
      entry('a', { node: 'old-agent', modify: 5, address: '10.0.0.1' }),
      entry('a', { node: 'new-agent', modify: 50, address: '10.0.0.2' }),
    ];
    const { services } = decodeHealth('web', body, false);
    assert.deepEqual(
      services.flatMap((s) => s.nodes.map((n) => n.address)),
      ['10.0.0.2:8080'],
    );
  });

  test('health: passing only by default; warning nodes on request, marked in metadata', () => {
    const body = [
      entry('ok'),
      entry('warn', { checks: ['passing', 'warning'] }),
      entry('crit', { checks: ['warning', 'critical'] }),
      entry('odd', { checks: ['maintenance'] }),
    ];
    assert.deepEqual(
      decodeHealth('web', body, false).services.flatMap((s) => s.nodes.map((n) => n.id)),
      ['ok'],
    );
    const withWarning = decodeHealth('web', body, true).services.flatMap((s) => s.nodes);
    assert.deepEqual(
      withWarning.map((n) => [n.id, n.metadata[HEALTH_METADATA_KEY]]),
      [
        ['ok', 'passing'],
        ['warn', 'warning'],
      ],
    );
  });

  test('health: address falls back to the node; IPv6 is bracketed; Meta is the metadata of services without tags', () => {
    const noAddress = { ...entry('a'), Service: { ...entry('a').Service, Address: '' } };
    const v6 = { ...entry('b'), Service: { ...entry('b').Service, Address: 'fe80::1' } };
    const plain = { ...entry('c'), Service: { ...entry('c').Service, Tags: ['traefik.enable=true'], Meta: { region: 'eu', n: 5 } } };
    const { services } = decodeHealth('web', [noAddress, v6, plain], false);
    const nodes = services.flatMap((s) => s.nodes);
    assert.equal(nodes.find((n) => n.id === 'a')?.address, '10.0.0.9:8080');
    assert.equal(nodes.find((n) => n.id === 'b')?.address, '[fe80::1]:8080');
    assert.deepEqual(nodes.find((n) => n.id === 'c')?.metadata, { region: 'eu' });
    assert.equal(services.find((s) => s.nodes.some((n) => n.id === 'c'))?.version, '');
  });

  test('health: unchanged entries of the last answer are reused, changed ones decoded again', () => {
    const first = decodeHealth('web', [entry('a', { modify: 5 }), entry('b', { modify: 6 })], false);
    assert.equal(first.instances.size, 2);
    const second = decodeHealth(
      'web',
      [entry('a', { modify: 5 }), entry('b', { modify: 7, md: { protocol: 'grpc' } })],
      false,
      first.instances,
    );
    const nodes = (d: typeof first) => new Map(d.services.flatMap((s) => s.nodes.map((n) => [n.id, n])));
    assert.equal(nodes(second).get('a'), nodes(first).get('a'), 'the same frozen node, not decoded again');
    assert.deepEqual(nodes(second).get('b')?.metadata, { protocol: 'grpc' });
    // A node turning warning is a new entry, not the cached passing one.
    const third = decodeHealth('web', [entry('a', { modify: 5, checks: ['warning'] })], true, second.instances);
    assert.equal(third.services[0]?.nodes[0]?.metadata[HEALTH_METADATA_KEY], 'warning');
  });

  test('health: wrong shapes throw ShapeError; bad entries are dropped and counted', () => {
    for (const body of [null, {}, 'x', 5]) assert.throws(() => decodeHealth('web', body, false), ShapeError);
    const { services, dropped } = decodeHealth(
      'web',
      [
        entry('good'),
        null,
        1,
        { Service: null },
        { ...entry('p'), Service: { ...entry('p').Service, Port: '80' } },
        { ...entry('x'), Checks: {} },
      ],
      false,
    );
    assert.equal(dropped, 5);
    assert.deepEqual(
      services.flatMap((s) => s.nodes.map((n) => n.id)),
      ['good'],
    );
  });
});

describe('decode: other endpoints', () => {
  test('catalog: name -> sorted tags; wrong shapes throw', () => {
    const m = decodeCatalogServices({ web: ['b', 'a', 3], consul: [], odd: null, '': ['x'] });
    assert.deepEqual(
      [...m],
      [
        ['web', ['a', 'b']],
        ['consul', []],
        ['odd', []],
      ],
    );
    assert.throws(() => decodeCatalogServices([]), ShapeError);
  });

  test('checks and members', () => {
    assert.deepEqual(decodeChecks([{ Node: 'n', CheckID: 'serfHealth', Status: 'passing', ServiceName: '' }, { Node: 1 }]), [
      { node: 'n', checkId: 'serfHealth', status: 'passing', serviceName: '', serviceId: '' },
    ]);
    assert.deepEqual(
      decodeMembers([{ Name: 's1', Addr: '127.0.0.2', Port: 8301, Status: 1, Tags: { role: 'consul', n: 1 } }, { Status: 4 }]),
      [{ name: 's1', address: '127.0.0.2:8301', status: 'alive', tags: { role: 'consul' } }],
    );
    assert.throws(() => decodeMembers({}), ShapeError);
  });
});

describe('decode: fuzz', () => {
  const anyJson = fc.jsonValue({ maxDepth: 5 });
  const tagLike = fc.oneof(
    fc.string(),
    fc.constantFrom('t-', 'e-', 'v-', 't=', 'e=', 'v=', 'rollcall-s-').chain((p) => fc.string().map((s) => p + s)),
  );
  const entryLike = fc.record(
    {
      Node: fc.oneof(anyJson, fc.record({ Node: fc.string(), Address: fc.string() })),
      Service: fc.oneof(
        anyJson,
        fc.record({
          ID: fc.oneof(fc.string(), anyJson),
          Service: fc.constantFrom('web', 'other'),
          Tags: fc.oneof(fc.array(tagLike), anyJson),
          Address: fc.oneof(fc.constantFrom('10.0.0.1', '::1', 'host.example', ''), fc.string()),
          Port: fc.oneof(fc.integer({ min: -5, max: 70_000 }), anyJson),
          Meta: fc.oneof(fc.dictionary(fc.string(), fc.string()), anyJson),
          ModifyIndex: fc.oneof(fc.nat(), anyJson),
        }),
      ),
      Checks: fc.oneof(fc.array(fc.record({ Status: fc.oneof(fc.constantFrom('passing', 'warning', 'critical'), anyJson) })), anyJson),
    },
    { requiredKeys: [] },
  );

  test('fuzz: decodeHealth returns valid frozen services or throws ShapeError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(entryLike, { maxLength: 8 }), anyJson), fc.boolean(), (body, warn) => {
        try {
          const { services, dropped } = decodeHealth('web', body, warn);
          assert.ok(dropped >= 0);
          const ids = new Set<string>();
          for (const s of services) {
            assert.equal(s.name, 'web');
            assert.ok(Object.isFrozen(s) && s.nodes.length > 0);
            for (const n of s.nodes) {
              assert.ok(!ids.has(n.id), 'one node per service ID');
              ids.add(n.id);
              assert.match(n.address, /:\d+$/);
            }
          }
        } catch (error) {
          assert.ok(error instanceof ShapeError, String(error));
        }
      }),
      { numRuns: 2_000 },
    );
  });

  test('fuzz: catalog, checks and members decoders never throw anything but ShapeError', () => {
    fc.assert(
      fc.property(anyJson, (body) => {
        for (const decode of [decodeCatalogServices, decodeChecks, decodeMembers]) {
          try {
            decode(body);
          } catch (error) {
            assert.ok(error instanceof ShapeError, String(error));
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
