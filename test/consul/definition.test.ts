/** What rollcall sends Consul for a registration, and how it reads Consul's heartbeat answers. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { goDuration } from '../../src/adapters/consul/client.js';
import { consulMeta, isLostCheck, OWNER_META_KEY, serviceDefinition } from '../../src/adapters/consul/register.js';
import { decodeServiceMetadata, decodeTags } from '../../src/adapters/consul/tags.js';
import { normalizeService } from '../../src/index.js';

describe('consul registration', () => {
  test('goDuration: the strings Go prints and Consul parses', () => {
    const cases: Array<[number, string]> = [
      [250, '250ms'],
      [1_000, '1s'],
      [1_500, '1.5s'],
      [10_000, '10s'],
      [65_000, '1m5s'],
      [95_000, '1m35s'],
      [3_600_000, '1h0m0s'],
      [3_725_500, '1h2m5.5s'],
    ];
    for (const [ms, text] of cases) assert.equal(goDuration(ms), text, `${ms} ms`);
  });

  test('definition: ID, Name, Address, Port, Meta, Go Micro tags and a passing TTL check', () => {
    const service = normalizeService({
      name: 'greeter',
      version: '1.2.0',
      metadata: { team: 'core' },
      endpoints: [{ name: 'Greeter.Hello' }],
      nodes: [{ id: 'greeter-1', address: '[fe80::1]:8080', metadata: { protocol: 'http' } }],
    });
    const node = service.nodes[0] as (typeof service.nodes)[0];
    const def = serviceDefinition(service, node, 30_000, { checks: [{ http: 'http://10.0.0.1:8080/health', interval: 10_000 }] }) as Record<
      string,
      unknown
    >;
    assert.equal(def.ID, 'greeter-1');
    assert.equal(def.Name, 'greeter');
    assert.equal(def.Address, 'fe80::1');
    assert.equal(def.Port, 8080);
    assert.deepEqual(def.Meta, { protocol: 'http' });
    const tags = def.Tags as string[];
    assert.deepEqual(decodeTags(tags), {
      version: '1.2.0',
      metadata: { protocol: 'http' },
      endpoints: [{ name: 'Greeter.Hello', request: null, response: null, metadata: {} }],
      dropped: 0,
    });
    assert.deepEqual(decodeServiceMetadata(tags).metadata, { team: 'core' });
    const [ttl, http] = def.Checks as Array<Record<string, unknown>>;
    assert.deepEqual(ttl, {
      CheckID: 'service:greeter-1',
      Name: 'rollcall heartbeat',
      Notes: 'passed every 10s while the process lives',
      TTL: '30s',
      Status: 'passing',
      DeregisterCriticalServiceAfter: '1m5s',
    });
    assert.deepEqual(http, {
      CheckID: 'service:greeter-1:1',
      Name: 'http check',
      HTTP: 'http://10.0.0.1:8080/health',
      Interval: '10s',
      DeregisterCriticalServiceAfter: '1m5s',
    });
    // Go Micro: max(ttl + 5 s, 1m5s).
    const long = serviceDefinition(service, node, 120_000) as { Checks: Array<{ DeregisterCriticalServiceAfter: string }> };
    assert.equal(long.Checks[0]?.DeregisterCriticalServiceAfter, '2m5s');
  });

  test('meta: only what Consul accepts (key syntax, reserved prefix, value size, 64 pairs)', () => {
    const md: Record<string, string> = {
      ok_key: 'v',
      'dotted.key': 'v',
      'consul-reserved': 'v',
      'Consul-Too': 'v',
      big: 'x'.repeat(513),
      'dash-ok': 'v',
    };
    assert.deepEqual(consulMeta(md), { ok_key: 'v', 'dash-ok': 'v' });
    const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'v']));
    assert.equal(Object.keys(consulMeta(many)).length, 64);
    // The owner id takes one of the 64 pairs, and a node's own `rollcall-owner` key never replaces it.
    const owned = consulMeta({ ...many, [OWNER_META_KEY]: 'forged' }, 'me');
    assert.equal(Object.keys(owned).length, 64);
    assert.equal(owned[OWNER_META_KEY], 'me');
  });

  test('lost: the answers that mean "register again" on Consul 1.8 and current Consul', () => {
    assert.equal(isLostCheck(404, 'Unknown check ID "service:x". Ensure that the check ID is passed, not the check name.'), true);
    assert.equal(isLostCheck(500, 'CheckID "service:x" does not have associated TTL'), true);
    assert.equal(isLostCheck(500, 'Unknown check "service:x"'), true);
    assert.equal(isLostCheck(500, 'No cluster leader'), false);
    assert.equal(isLostCheck(403, 'Permission denied'), false);
    assert.equal(isLostCheck(200, ''), false);
  });
});
