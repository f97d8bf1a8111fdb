import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isRollcallError } from '../../src/index.js';
import { addressProblem, diffNodes, normalizeService, portableLimits, splitHostPort } from '../../src/service.js';

describe('service: addresses', () => {
  const good = ['10.0.0.7:8080', '[::1]:80', '[fe80::1%eth0]:65535', 'svc.internal:1', 'a-b.example.com.:443', '0.0.0.0:9000', '[::]:1'];
  const bad: Array<[string, RegExp]> = [
    ['10.0.0.7', /host:port/],
    ['10.0.0.7:0', /port/],
    ['10.0.0.7:65536', /port/],
    ['10.0.0.7:+80', /port/],
    ['10.0.0.7: 80', /port/],
    ['::1:80', /host:port/],
    ['[::1]80', /host:port/],
    ['[zz::1]:80', /IPv6/],
    ['[fe80::1%eth 0]:80', /zone/],
    ['999.1.1.1:80', /IPv4/],
    ['-bad-.example:80', /host name/],
    ['under_score.example:80', /host name/],
    [':80', /host:port/],
  ];
  for (const address of good) it(`accepts ${address}`, () => assert.equal(addressProblem(address), undefined));
  for (const [address, why] of bad) it(`rejects ${address}`, () => assert.match(addressProblem(address) ?? '', why));
  it('refuses localhost only where asked (networked adapters)', () => {
    assert.equal(addressProblem('localhost:80'), undefined);
    assert.match(addressProblem('localhost:80', true) ?? '', /localhost/);
  });
  it('IPv4 fast path: agrees with the general rule (node:net isIPv4, ports 1..65535) on near-miss addresses', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '007', '', 'a', '1e1'));
    const port = fc.oneof(fc.integer({ min: 0, max: 70_000 }).map(String), fc.constantFrom('08080', '0', '', '+1', '80a'));
    fc.assert(
      fc.property(fc.array(octet, { minLength: 3, maxLength: 5 }), port, (octets, p) => {
        const host = octets.join('.');
        const address = `${host}:${p}`;
        const valid = isIPv4(host) && /^[0-9]{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535;
        // Hosts of digits and dots are IPv4 or nothing; others are host names, another rule.
        if (/^[0-9.]*$/.test(host)) assert.equal(addressProblem(address) === undefined, valid, address);
      }),
      { numRuns: 3000 },
    );
  });
  it('splits bracketed IPv6 with a zone', () => assert.deepEqual(splitHostPort('[fe80::1%eth0]:80'), { host: 'fe80::1%eth0', port: '80' }));
});

describe('service: normalisation', () => {
  it('accepts Go Micro JSON with null maps and arrays unchanged', () => {
    const fromGo = JSON.parse(
      '{"name":"go.micro.srv.greeter","version":"latest","metadata":null,"endpoints":[{"name":"Say.Hello","request":{"name":"Request","type":"Request","values":null},"response":null,"metadata":null}],"nodes":[{"id":"go.micro.srv.greeter-1","address":"10.0.0.7:8080","metadata":null}]}',
    );
    const s = normalizeService(fromGo);
    assert.deepEqual(s.metadata, {});
    assert.equal(s.endpoints[0]?.request?.values, null);
    assert.deepEqual(s.nodes[0]?.metadata, {});
    assert.ok(Object.isFrozen(s.endpoints[0]?.request));
  });

  it('is canonical: metadata keys and nodes sorted, so equal content is equal JSON', () => {
    const a = normalizeService({
      name: 'x',
      metadata: { b: '1', a: '2' },
      nodes: [
        { id: 'n2', address: '1.1.1.1:2' },
        { id: 'n1', address: '1.1.1.1:1' },
      ],
    });
    const b = normalizeService({
      name: 'x',
      metadata: { a: '2', b: '1' },
      nodes: [
        { id: 'n1', address: '1.1.1.1:1' },
        { id: 'n2', address: '1.1.1.1:2' },
      ],
    });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
  });

  it('a node id given twice is refused, named at its second place in the input', () => {
    const at = (ids: string[]) => {
      try {
        normalizeService({ name: 'x', nodes: ids.map((id, i) => ({ id, address: `1.1.1.1:${i + 1}` })) });
        return 'accepted';
      } catch (e) {
        assert.ok(isRollcallError(e, 'INVALID_SERVICE'));
        return (e as Error).message.replace(/^\[rollcall\] /, '');
      }
    };
    assert.equal(at(['b', 'a', 'c', 'a']), 'nodes[3].id: "a" appears twice');
    assert.equal(at(['z', 'z']), 'nodes[1].id: "z" appears twice');
    assert.equal(at(['b', 'a', 'c']), 'accepted');
  });

  it('names the field and the limit', () => {
    const meta = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    assert.throws(
      () => normalizeService({ name: 'x', nodes: [{ id: 'n', address: '1.1.1.1:1', metadata: meta }] }),
      (e) =>
        isRollcallError(e, 'TOO_LARGE') && /nodes\[0\]\.metadata: has 65 entries, over the portable limit of 64/.test((e as Error).message),
    );
    assert.throws(
      () =>
        normalizeService(
          { name: 'x', nodes: [{ address: '1.1.1.1:1' }] },
          { defaultNodeIds: true, limits: { ...portableLimits, label: 'mdns TXT record', maxNodeEncodedBytes: 50 } },
        ),
      (e) => isRollcallError(e, 'TOO_LARGE') && /mdns TXT record limit of 50/.test((e as Error).message),
    );
    assert.throws(
      () => normalizeService({ name: 'has space', nodes: [{ address: '1.1.1.1:1' }] }),
      (e) => isRollcallError(e, 'INVALID_SERVICE') && /^\[rollcall\] name:/.test((e as Error).message),
    );
  });

  it('bounds nesting of endpoint values', () => {
    let value: Record<string, unknown> = { name: 'leaf', type: 'string', values: null };
    for (let i = 0; i < 40; i++) value = { name: `n${i}`, type: 'T', values: [value] };
    assert.throws(
      () => normalizeService({ name: 'x', endpoints: [{ name: 'E', request: value }], nodes: [{ address: '1.1.1.1:1' }] }),
      /nests deeper/,
    );
  });

  it('fuzz: any JSON value either normalises or throws a RollcallError, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          normalizeService(value);
        } catch (error) {
          return isRollcallError(error);
        }
        return true;
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.record({
          name: fc.string(),
          version: fc.option(fc.string()),
          metadata: fc.option(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer()))),
          nodes: fc.array(
            fc.record({ id: fc.option(fc.string()), address: fc.string(), metadata: fc.option(fc.dictionary(fc.string(), fc.string())) }),
          ),
        }),
        (value) => {
          try {
            const s = normalizeService(value, { defaultNodeIds: true });
            return s.nodes.every((n) => addressProblem(n.address) === undefined);
          } catch (error) {
            return isRollcallError(error);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('diffNodes: added, updated, removed by id', () => {
    const n = (id: string, port: number) => ({ id, address: `1.1.1.1:${port}`, metadata: {} });
    const d = diffNodes([n('a', 1), n('b', 2)], [n('b', 3), n('c', 4)]);
    assert.deepEqual([d.added.map((x) => x.id), d.updated.map((x) => x.id), d.removed.map((x) => x.id)], [['c'], ['b'], ['a']]);
  });
});
