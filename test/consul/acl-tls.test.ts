/**
 * Consul with ACLs (deny by default) and with HTTPS only: the errors say what is wrong (the right
 * a token lacks, the certificate that is not trusted) and never carry the token.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { ConsulRegistry } from '../../src/adapters/consul/registry.js';
import { isRollcallError, type Registry } from '../../src/index.js';
import { Recorder, service, uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

const deniedFor = (right: RegExp) => (e: unknown) => isRollcallError(e, 'PERMISSION_DENIED') && right.test((e as Error).message);

describe('consul ACL', () => {
  test('acl: no token -> PERMISSION_DENIED naming the right; a scoped token works for its service only', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent({ acl: true }));
    if (!agent) return;
    const registries: Registry[] = [];
    t.after(async () => {
      await Promise.allSettled(registries.map((r) => r.close()));
      await agent.stop();
    });
    const open = (token?: string) => {
      const r = createConsulRegistry({ address: agent.address, ...(token ? { token } : {}) });
      registries.push(r);
      return r;
    };
    const web = uniqueName('web');
    const api = uniqueName('api');

    const anonymous = open();
    await assert.rejects(
      anonymous.register(service(web, [{ id: `${web}-1`, port: 8_001 }])),
      deniedFor(new RegExp(`no token was given.*service:write on "${web}"`)),
    );

    const bogus = randomUUID();
    const stranger = open(bogus);
    await assert.rejects(stranger.register(service(web, [{ id: `${web}-1`, port: 8_001 }])), (e: unknown) => {
      assert.ok(isRollcallError(e, 'PERMISSION_DENIED'));
      assert.match((e as Error).message, /not known to Consul \(ACL not found\)/);
      assert.ok(!(e as Error).message.includes(bogus), 'the token never appears in a message');
      return true;
    });
    // A watch with a token Consul does not know ends with the error instead of retrying in silence.
    const refused = new Recorder(stranger.watch({ service: web }));
    await refused.done;
    assert.ok(isRollcallError(refused.error, 'PERMISSION_DENIED'), `watch error: ${String(refused.error)}`);
    assert.equal(stranger.stats().blindPeriods, 0, 'a refusal ends the watch; it does not blind the registry');

    const token = await agent.createServiceToken(web);
    const scoped = open(token);
    const reg = await scoped.register(service(web, [{ id: `${web}-1`, port: 8_001 }]), { ttl: 3_000 });
    const found = await scoped.getService(web);
    assert.deepEqual(
      found.flatMap((s) => s.nodes.map((n) => n.id)),
      [`${web}-1`],
    );
    const rec = new Recorder(scoped.watch({ service: web }));
    t.after(() => rec.stop());
    await rec.until((r) => r.nodeIds(web).length === 1, 3_000, 'the scoped token watches its service');
    await assert.rejects(
      scoped.register(service(api, [{ id: `${api}-1`, port: 8_002 }])),
      deniedFor(new RegExp(`the token lacks service:write on "${api}"`)),
    );
    // Heartbeats keep working under the ACL (service:write covers the check).
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await agent.request(`/v1/health/service/${web}?passing`, { token })).json<unknown[]>().length, 1);
    await reg.deregister();
    await rec.until((r) => r.nodeIds(web).length === 0, 3_000, 'goodbye under the ACL');
  });
});

describe('consul TLS', () => {
  test('tls: with the CA it works; without it the error says the certificate is not trusted', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent({ tls: true }));
    if (!agent) return;
    const registries: Registry[] = [];
    t.after(async () => {
      await Promise.allSettled(registries.map((r) => r.close()));
      await agent.stop();
    });
    const name = uniqueName('tls');

    const trusting = createConsulRegistry({ address: agent.address, tls: { ca: agent.caFile } });
    registries.push(trusting);
    await trusting.register(service(name, [{ id: `${name}-1`, port: 8_101 }]));
    assert.equal((await trusting.getService(name))[0]?.nodes[0]?.id, `${name}-1`);

    // The same through Consul's own variables: CONSUL_HTTP_SSL and CONSUL_CACERT with a bare host:port.
    const fromEnv = new ConsulRegistry(
      { address: agent.address.replace('https://', '') },
      { CONSUL_HTTP_SSL: 'true', CONSUL_CACERT: agent.caFile, CONSUL_TLS_SERVER_NAME: 'server.dc1.consul' },
    );
    registries.push(fromEnv);
    assert.equal((await fromEnv.getService(name))[0]?.nodes[0]?.id, `${name}-1`);
    // A server name that is an IP is checked against the certificate's IP SANs.
    const byIp = createConsulRegistry({ address: agent.address, tls: { ca: agent.ca, serverName: '127.0.0.1' } });
    registries.push(byIp);
    assert.equal((await byIp.getService(name))[0]?.nodes[0]?.id, `${name}-1`);
    const wrongName = createConsulRegistry({ address: agent.address, tls: { ca: agent.ca, serverName: 'other.example' } });
    registries.push(wrongName);
    await assert.rejects(wrongName.getService(name), /does not name this host/);

    const untrusting = createConsulRegistry({ address: agent.address, requestTimeout: 2_000 });
    registries.push(untrusting);
    await assert.rejects(untrusting.register(service(name, [{ id: `${name}-2`, port: 8_102 }])), (e: unknown) => {
      assert.ok(isRollcallError(e, 'UNAVAILABLE'), String(e));
      assert.match((e as Error).message, /TLS certificate is not trusted/);
      assert.match((e as Error).message, /tls\.ca or CONSUL_CACERT/);
      assert.equal((e as { retryable: boolean }).retryable, false);
      return true;
    });
    await assert.rejects(untrusting.getService(name), /not trusted/);
  });
});
