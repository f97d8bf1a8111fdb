/**
 * A node registered on a wildcard address (`0.0.0.0:8080`, `[::]:8080`, a server listening on
 * every interface) is registered in Consul with an address other hosts can reach: the local address
 * of the route to the agent, or, when that is loopback (the agent runs on this host), the agent's
 * own advertised address, which Consul uses for a service registered without one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localAddressTowards, wildcardAddress } from '../../src/adapters/consul/wildcard.js';
import { uniqueName } from '../conformance/helpers.js';
import { withAgent } from './agent-registries.js';

describe('consul: wildcard addresses', () => {
  test('a real agent advertising 127.0.0.5: 0.0.0.0 and :: become the address other hosts reach this one by', async (t) => {
    const env = await withAgent(t, {}, { bind: '127.0.0.5' });
    if (!env) return;
    const { agent, open } = env;
    const [a, b] = [await open(), await open()];
    const name = uniqueName('wild');
    const reg = await a.register({
      name,
      nodes: [
        { id: `${name}-v4`, address: '0.0.0.0:8080' },
        { id: `${name}-v6`, address: '[::]:8081' },
        { id: `${name}-ip`, address: '127.0.0.9:8082' },
      ],
    });
    // The registration says what was registered; the registry tells others where to connect.
    assert.deepEqual(reg.service.nodes.map((n) => n.address).sort(), ['0.0.0.0:8080', '127.0.0.9:8082', '[::]:8081']);
    const found = (await b.getService(name))[0]?.nodes.map((n) => `${n.id.slice(name.length + 1)} ${n.address}`);
    assert.deepEqual(found, ['ip 127.0.0.9:8082', 'v4 127.0.0.5:8080', 'v6 127.0.0.5:8081']);
    // Consul got no address for the wildcard nodes (it uses its node's), an explicit one as given.
    const stored = await agent.request(`/v1/agent/service/${name}-v4`);
    assert.equal(stored.json<{ Address: string }>().Address, '');
    assert.equal((await agent.request(`/v1/agent/service/${name}-ip`)).json<{ Address: string }>().Address, '127.0.0.9');
  });

  test('the local end of the route to the agent: loopback gives way to the agent’s address, any other is used', async () => {
    // A route lookup sends nothing: a UDP socket is connected, not written to.
    assert.equal(await localAddressTowards('http://127.0.0.5:8500'), '127.0.0.1');
    assert.equal(await localAddressTowards('http://[::1]:8500').catch(() => '::1'), '::1');
    assert.equal(wildcardAddress('127.0.0.1'), '');
    assert.equal(wildcardAddress('127.3.2.1'), '');
    assert.equal(wildcardAddress('::1'), '');
    assert.equal(wildcardAddress('::ffff:127.0.0.1'), '');
    assert.equal(wildcardAddress('10.1.2.3'), '10.1.2.3');
    assert.equal(wildcardAddress('fd00::5'), 'fd00::5');
    assert.equal(wildcardAddress('::ffff:10.1.2.3'), '10.1.2.3');
  });
});
