/**
 * A node id taken over by another registry (a rolling restart: the new process registers the same
 * node id before the old one closes). The old registry's goodbye must leave the new owner's node
 * alone; where it cannot (Consul has no compare-and-delete, so a goodbye racing the takeover still
 * deletes), the new owner registers the node again within ttl / 3. Against a real agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OWNER_META_KEY } from '../../src/adapters/consul/register.js';
import { eventually, service, uniqueName } from '../conformance/helpers.js';
import { withAgent } from './agent-registries.js';

const TTL = 3_000;
/** A lost node is noticed at the next heartbeat (ttl / 3) and registered again at once; the second is for a busy machine. */
const BOUND = TTL / 3 + 1_000;

interface AgentService {
  Address: string;
  Port: number;
  Meta: Record<string, string>;
}

test('takeover: each registry marks its nodes with its own owner id; the old owner’s goodbye leaves the new owner’s node', async (t) => {
  const env = await withAgent(t, { ttl: TTL });
  if (!env) return;
  const { agent, open } = env;
  const [old, successor] = [await open(), await open()];
  const name = uniqueName('takeover');
  const id = `${name}-api-1`;
  const read = async () => {
    const res = await agent.request(`/v1/agent/service/${id}`);
    return res.status === 200 ? res.json<AgentService>() : undefined;
  };

  const first = await old.register(service(name, [{ id, port: 7801 }]));
  const firstOwner = (await read())?.Meta[OWNER_META_KEY];
  assert.match(firstOwner ?? '', /^[0-9a-f-]{36}$/, 'the registration carries its registry’s owner id in Meta');
  await successor.register(service(name, [{ id, port: 7802 }]));
  const taken = await read();
  assert.equal(taken?.Port, 7802);
  assert.notEqual(taken?.Meta[OWNER_META_KEY], firstOwner, 'the successor marks the node as its own');

  await first.deregister();
  assert.equal((await read())?.Port, 7802, 'the old registration’s goodbye did not remove the successor’s node');
  // A node without metadata has no `t-` tags: its Meta (with the owner id) is not shown as metadata.
  assert.deepEqual((await successor.getService(name))[0]?.nodes[0]?.metadata, { protocol: 'http' });
  const bare = uniqueName('bare');
  await successor.register({ name: bare, nodes: [{ id: `${bare}-1`, address: '127.0.0.1:7803' }] });
  assert.deepEqual((await old.getService(bare))[0]?.nodes[0]?.metadata, {}, 'the owner id is not node metadata');

  // An explicit deregister removes whatever has the id, whoever registered it.
  await old.deregister(service(name, [{ id, port: 7802 }]));
  assert.equal(await read(), undefined, 'registry.deregister() removes a node another registry registered');
});

test('takeover: a node the new owner loses anyway (a goodbye racing the takeover) is registered again within ttl/3', async (t) => {
  const env = await withAgent(t, { ttl: TTL });
  if (!env) return;
  const { agent, open } = env;
  const owner = await open();
  const name = uniqueName('raced');
  const id = `${name}-api-1`;
  const reg = await owner.register(service(name, [{ id, port: 7811 }]));
  const events: string[] = [];
  reg.on('lost', () => events.push('lost'));
  reg.on('restored', () => events.push('restored'));
  const passing = async () => {
    const res = await agent.request(`/v1/health/service/${name}?passing`);
    return res.status === 200 && res.json<Array<{ Service: { Port: number } }>>().some((e) => e.Service.Port === 7811);
  };
  assert.ok(await passing());

  // What the old owner's goodbye does when it read its own id just before the takeover.
  const removed = await agent.request(`/v1/agent/service/deregister/${id}`, { method: 'PUT' });
  assert.equal(removed.status, 200);
  const lostAt = performance.now();
  assert.equal(await passing(), false);
  await eventually(passing, BOUND + 2_000, 'the node registered again', 10);
  const after = performance.now() - lostAt;
  process.stderr.write(`node back ${after.toFixed(0)} ms after it was deleted (bound ${BOUND} ms)\n`);
  assert.ok(after <= BOUND, `the node came back ${after.toFixed(0)} ms after it was deleted, over ttl/3 + 1 s (${BOUND} ms)`);
  await eventually(() => events.join() === 'lost,restored', 1_000, 'lost, then restored');
});
