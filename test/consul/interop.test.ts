/**
 * Go Micro interop through one Consul: a service registered by raw HTTP exactly as Go Micro's
 * consul registry does (tags built here from the documented format, not with our codec) is found
 * with its version, metadata and endpoints; and what rollcall writes decodes by Go Micro's rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { OWNER_META_KEY } from '../../src/adapters/consul/register.js';
import type { EndpointInput } from '../../src/index.js';
import { uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

/** Go Micro: `prefix + hex(zlib(bytes))`, compress/zlib at the default level. */
const goTag = (prefix: 't-' | 'e-' | 'v-', text: string) => prefix + deflateSync(Buffer.from(text)).toString('hex');

/** Go Micro's decoders (registry/consul/encoding.go): first form that decodes wins; plain `=` forms too. */
function goDecode(tags: string[]) {
  const metadata: Record<string, string> = {};
  const endpoints: unknown[] = [];
  let version = '';
  for (const tag of tags) {
    const kind = tag.slice(0, 2);
    const body = (hex: string) => inflateSync(Buffer.from(hex, 'hex')).toString();
    if (kind === 't-') Object.assign(metadata, JSON.parse(body(tag.slice(2))));
    if (kind === 'e-') endpoints.push(JSON.parse(body(tag.slice(2))));
    if (kind === 'v-') version = body(tag.slice(2));
  }
  return { metadata, endpoints, version };
}

describe('consul interop with Go Micro', () => {
  test('interop: a Go Micro registration (raw HTTP) is found with version, metadata and endpoints', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    const registry = createConsulRegistry({ address: agent.address });
    t.after(async () => {
      await registry.close();
      await agent.stop();
    });
    const name = uniqueName('go.micro.srv');
    const endpoint = {
      name: 'Greeter.Hello',
      request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
      response: { name: 'Response', type: 'Response', values: [{ name: 'msg', type: 'string', values: null }] },
      metadata: { stream: 'false' },
    };
    const register = (id: string, port: number, tags: string[], meta: Record<string, string>) =>
      agent.request('/v1/agent/service/register', {
        method: 'PUT',
        body: {
          ID: id,
          Name: name,
          Tags: tags,
          Address: '10.1.2.3',
          Port: port,
          Meta: meta,
          Check: { TTL: '1m35s', DeregisterCriticalServiceAfter: '1m35s' },
        },
      });
    const modern = [
      goTag('t-', JSON.stringify({ broker: 'http' })),
      goTag('t-', JSON.stringify({ protocol: 'mucp' })),
      goTag('t-', JSON.stringify({ registry: 'consul' })),
      goTag('e-', JSON.stringify(endpoint)),
      goTag('v-', 'latest'),
    ];
    assert.equal((await register(`${name}-1`, 50_051, modern, { broker: 'http', protocol: 'mucp', registry: 'consul' })).status, 200);
    // Older Go Micro wrote the plain forms.
    const legacy = ['t={"protocol":"grpc"}', `e=${JSON.stringify({ ...endpoint, name: 'Greeter.Stream' })}`, 'v=0.9.0'];
    assert.equal((await register(`${name}-2`, 50_052, legacy, {})).status, 200);
    // Go Micro passes the check right after registering; until then the instance is critical.
    for (const id of [`${name}-1`, `${name}-2`]) {
      assert.equal((await agent.request(`/v1/agent/check/pass/service:${id}`, { method: 'PUT' })).status, 200);
    }

    const versions = [...(await registry.getService(name))].sort((a, b) => a.version.localeCompare(b.version));
    assert.deepEqual(
      versions.map((s) => s.version),
      ['0.9.0', 'latest'],
    );
    const [old, latest] = versions;
    assert.deepEqual(latest?.nodes, [
      { id: `${name}-1`, address: '10.1.2.3:50051', metadata: { broker: 'http', protocol: 'mucp', registry: 'consul' } },
    ]);
    assert.deepEqual(latest?.endpoints, [endpoint]);
    assert.deepEqual(old?.nodes[0]?.metadata, { protocol: 'grpc' });
    assert.equal(old?.endpoints[0]?.name, 'Greeter.Stream');
    assert.ok((await registry.listServices()).some((s) => s.name === name && s.version === 'latest'));
  });

  test('interop: our registration decodes by Go Micro rules, with Meta and the TTL check Go Micro would write', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    const registry = createConsulRegistry({ address: agent.address });
    t.after(async () => {
      await registry.close();
      await agent.stop();
    });
    const name = uniqueName('rollcall');
    const endpoints: EndpointInput[] = [
      { name: 'Svc.Call', request: { name: 'Req', type: 'Req', values: null }, response: null, metadata: { a: 'b' } },
      { name: 'Svc.Other', request: null, response: null, metadata: {} },
    ];
    await registry.register(
      {
        name,
        version: '2.1.0',
        metadata: { team: 'core' },
        endpoints,
        nodes: [{ id: `${name}-1`, address: '10.9.8.7:8080', metadata: { protocol: 'http', 'not a meta key': 'x' } }],
      },
      { ttl: 30_000 },
    );
    const svc = (await agent.request(`/v1/agent/service/${name}-1`)).json<{
      ID: string;
      Service: string;
      Address: string;
      Port: number;
      Tags: string[];
      Meta: Record<string, string>;
    }>();
    assert.equal(svc.Service, name);
    assert.equal(svc.Address, '10.9.8.7');
    assert.equal(svc.Port, 8080);
    // Consul refuses such keys in Meta; the tags carry every pair. The owner id is ours, not metadata.
    assert.deepEqual(svc.Meta, { protocol: 'http', [OWNER_META_KEY]: svc.Meta[OWNER_META_KEY] });
    assert.match(svc.Meta[OWNER_META_KEY] ?? '', /^[0-9a-f-]{36}$/);
    const decoded = goDecode(svc.Tags);
    assert.equal(decoded.version, '2.1.0');
    assert.deepEqual(decoded.metadata, { 'not a meta key': 'x', protocol: 'http' });
    assert.deepEqual(decoded.endpoints, [
      { name: 'Svc.Call', request: { name: 'Req', type: 'Req', values: null }, response: null, metadata: { a: 'b' } },
      { name: 'Svc.Other', request: null, response: null, metadata: {} },
    ]);

    const checks = (await agent.request('/v1/agent/checks')).json<Record<string, { Status: string; ServiceID: string; Type?: string }>>();
    const check = checks[`service:${name}-1`];
    assert.equal(check?.Status, 'passing');
    assert.equal(check?.ServiceID, `${name}-1`);
  });
});
