/** Consul features beyond the common interface: members, warning nodes, extra HTTP/TCP checks, datacenter. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { createConsulRegistry, HEALTH_METADATA_KEY } from '../../src/adapters/consul/index.js';
import { isRollcallError, type Registry } from '../../src/index.js';
import { eventually, Recorder, service, uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

test('features: members, warning nodes marked in metadata, extra checks, unknown datacenter', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const registries: Registry[] = [];
  const open = (options: Record<string, unknown> = {}) => {
    const r = createConsulRegistry({ address: agent.address, ...options });
    registries.push(r);
    return r;
  };
  let healthy = true;
  const probe = http.createServer((_req, res) => {
    res.writeHead(healthy ? 200 : 500);
    res.end();
  });
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    probe.closeAllConnections();
    await new Promise((resolve) => probe.close(resolve));
    await agent.stop();
  });

  const plain = open();
  const members = (await plain.members?.()) ?? [];
  assert.deepEqual(
    members.map((m) => [m.name, m.status, m.tags.role]),
    [[agent.nodeName, 'alive', 'consul']],
  );
  assert.match(members[0]?.address ?? '', /^127\.0\.0\.1:\d+$/);

  // Warning nodes: hidden by default; with includeWarning present and marked.
  const name = uniqueName('warn');
  await plain.register(service(name, [{ id: `${name}-1`, port: 7_301 }]), { ttl: 60_000 });
  const lenient = open({ includeWarning: true });
  const rec = new Recorder(lenient.watch({ service: name }));
  t.after(() => rec.stop());
  await rec.until((r) => r.nodeIds(name).length === 1, 3_000, 'the node');
  assert.equal(rec.state.get(`${name}@1.0.0`)?.nodes[0]?.metadata[HEALTH_METADATA_KEY], 'passing');
  assert.equal((await agent.request(`/v1/agent/check/warn/service:${name}-1`, { method: 'PUT' })).status, 200);
  await rec.until((r) => r.state.get(`${name}@1.0.0`)?.nodes[0]?.metadata[HEALTH_METADATA_KEY] === 'warning', 3_000, 'warning');
  assert.equal(rec.events.at(-1)?.type, 'update');
  await assert.rejects(plain.getService(name), (e) => isRollcallError(e, 'NOT_FOUND'));
  assert.equal((await lenient.getService(name))[0]?.nodes[0]?.metadata[HEALTH_METADATA_KEY], 'warning');

  // An extra HTTP check: failing it takes the node out of the passing view although the TTL passes.
  const checked = uniqueName('checked');
  const port = (probe.address() as net.AddressInfo).port;
  const withCheck = open({ checks: [{ http: `http://127.0.0.1:${port}/health`, interval: 200 }] });
  await withCheck.register(service(checked, [{ id: `${checked}-1`, port: 7_302 }]));
  await eventually(async () => (await plain.getService(checked).catch(() => [])).length === 1, 5_000, 'the checked node passing');
  healthy = false;
  await eventually(async () => (await plain.getService(checked).catch(() => [])).length === 0, 5_000, 'the failing http check');

  const elsewhere = open({ datacenter: 'nowhere' });
  await assert.rejects(
    elsewhere.getService(name),
    (e) => isRollcallError(e, 'UNAVAILABLE') && /No path to datacenter/.test((e as Error).message),
  );
});

test('concurrency: 100 registrations and lookups in flight at once print no process warning', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const registry = createConsulRegistry({ address: agent.address });
  // Node warns once per signal past 10 abort listeners: every call in flight listens to the
  // registry's lifetime signal, so a busy registry would print a false "memory leak" warning.
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(async () => {
    process.off('warning', onWarning);
    await registry.close();
    await agent.stop();
  });
  const name = uniqueName('busy');
  const regs = await Promise.all(
    Array.from({ length: 100 }, (_, i) => registry.register(service(`${name}-${i}`, [{ id: `${name}-${i}-1`, port: 9000 + i }]))),
  );
  await Promise.all(regs.map((_, i) => registry.getService(`${name}-${i}`)));
  await Promise.all(regs.map((r) => r.deregister()));
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    warnings.map((w) => `${w.name}: ${w.message}`),
    [],
  );
});
