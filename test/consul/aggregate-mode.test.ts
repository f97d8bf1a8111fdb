/**
 * Watch modes on a small cap (maxConnections 4: 3 blocking-query connections), so the switch to
 * aggregate mode and back happens with a handful of services. Covers what only aggregate mode has
 * to work out: node-level checks (maintenance) and changes no tag or check reveals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import type { Registry } from '../../src/index.js';
import { Recorder, service, uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

test('modes: per-service up to the cap, aggregate past it, and back; watchers never notice', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  const owner = createConsulRegistry({ address: agent.address });
  const watcher = createConsulRegistry({ address: agent.address, maxConnections: 4 });
  const registries: Registry[] = [owner, watcher];
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    await agent.stop();
  });
  const prefix = uniqueName('mode');
  const names = [0, 1, 2, 3, 4, 5].map((i) => `${prefix}-${i}`);
  for (const [i, name] of names.entries()) await owner.register(service(name, [{ id: `${name}-a`, port: 7_000 + i }]));

  const first = names.slice(0, 3).map((n) => new Recorder(watcher.watch({ service: n })));
  await Promise.all(first.map((r) => r.watcher.synced));
  assert.equal(watcher.stats().watchMode, 'per-service');
  assert.equal(watcher.stats().blockingQueries, 3);

  const more = names.slice(3).map((n) => new Recorder(watcher.watch({ service: n })));
  const recorders = [...first, ...more];
  t.after(() => Promise.all(recorders.map((r) => r.stop())));
  await Promise.all(more.map((r) => r.watcher.synced));
  assert.equal(watcher.stats().watchMode, 'aggregate');
  assert.equal(watcher.stats().blockingQueries, 2, 'catalog + health state, whatever the number of services');
  for (const [i, rec] of recorders.entries()) assert.deepEqual(rec.nodeIds(names[i] as string), [`${names[i]}-a`]);

  // A second node, a goodbye and a metadata change, all seen through the aggregate queries.
  await owner.register(service(names[0] as string, [{ id: `${names[0]}-b`, port: 7_100 }]));
  await owner.deregister(service(names[1] as string, [{ id: `${names[1]}-a`, port: 7_001 }]));
  await owner.register(service(names[2] as string, [{ id: `${names[2]}-a`, port: 7_002, metadata: { build: '2' } }]));
  await recorders[0]?.until((r) => r.nodeIds(names[0] as string).length === 2, 3_000, 'a second node');
  await recorders[1]?.until((r) => r.nodeIds(names[1] as string).length === 0, 3_000, 'a goodbye');
  await recorders[2]?.until((r) => r.state.get(`${names[2]}@1.0.0`)?.nodes[0]?.metadata.build === '2', 3_000, 'new metadata');

  // Node maintenance is a node-level check: every service on the node leaves the passing view.
  assert.equal((await agent.request('/v1/agent/maintenance?enable=true&reason=test', { method: 'PUT' })).status, 200);
  await Promise.all(recorders.map((r, i) => r.until((x) => x.nodeIds(names[i] as string).length === 0, 3_000, 'maintenance on')));
  assert.equal((await agent.request('/v1/agent/maintenance?enable=false', { method: 'PUT' })).status, 200);
  await Promise.all(
    recorders.map((r, i) =>
      r.until((x) => x.nodeIds(names[i] as string).length === (i === 1 ? 0 : i === 0 ? 2 : 1), 3_000, 'maintenance off'),
    ),
  );

  // An address change under the same id, tags and checks: only the catalog index moves (a sweep).
  const moved = names[3] as string;
  assert.equal(
    (
      await agent.request('/v1/agent/service/register', {
        method: 'PUT',
        body: { ID: `${moved}-a`, Name: moved, Address: '127.0.0.99', Port: 7_003, Tags: (await rawTags(agent, `${moved}-a`)) as string[] },
      })
    ).status,
    200,
  );
  await recorders[3]?.until((r) => r.state.get(`${moved}@1.0.0`)?.nodes[0]?.address === '127.0.0.99:7003', 8_000, 'the address change');

  // Down to half the cap (hysteresis): per-service queries again, the same watcher.
  for (const r of recorders.slice(2)) await r.stop();
  assert.equal(watcher.stats().watchMode, 'aggregate', 'two services on three connections: no flip-flop at the cap');
  await recorders[1]?.stop();
  assert.equal(watcher.stats().watchMode, 'per-service');
  assert.equal(watcher.stats().blockingQueries, 1);
  await owner.register(service(names[0] as string, [{ id: `${names[0]}-c`, port: 7_200 }]));
  await recorders[0]?.until((r) => r.nodeIds(names[0] as string).length === 3, 3_000, 'a change after switching back');
  for (const r of recorders) assert.equal(r.error, undefined);
});

async function rawTags(agent: { request(p: string): Promise<{ json<T>(): T }> }, id: string): Promise<unknown> {
  return (await agent.request(`/v1/agent/service/${id}`)).json<{ Tags: string[] }>().Tags;
}
