/** Seed and advertise addresses as users write them: with and without a port, IPv4, IPv6, names. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { resolveGossipSettings } from '../../src/adapters/gossip/registry/settings.js';
import { isRollcallError } from '../../src/errors.js';

it('seeds: host:port, [v6]:port, bare hosts and bare IPv6 on port 7946', () => {
  const { seeds } = resolveGossipSettings({
    address: ['10.0.0.1:8000', '10.0.0.2', 'node-a.local', 'node-b:7000', '[::1]:9000', '::1', '[fe80::1%eth0]', ' 10.0.0.3:1 '],
  });
  assert.deepEqual(seeds, [
    { host: '10.0.0.1', port: 8000 },
    { host: '10.0.0.2', port: 7946 },
    { host: 'node-a.local', port: 7946 },
    { host: 'node-b', port: 7000 },
    { host: '::1', port: 9000 },
    { host: '::1', port: 7946 },
    { host: 'fe80::1%eth0', port: 7946 },
    { host: '10.0.0.3', port: 1 },
  ]);
  assert.deepEqual(resolveGossipSettings({ address: 'a:1,b:2' }).seeds, [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
  ]);
});

it('seeds: what is not host:port is INVALID_OPTIONS naming the entry', () => {
  for (const bad of ['host:', 'host:0', 'host:65536', 'host:80x', 'a:b:c', '[::1]80', '[::1]:', ':80']) {
    assert.throws(
      () => resolveGossipSettings({ address: [bad] }),
      (e) => isRollcallError(e, 'INVALID_OPTIONS') && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});
