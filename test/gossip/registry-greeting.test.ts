/**
 * Greeting members that join: a member that learns of many others at once (a healed partition, a
 * cluster starting together) sends each of them its nodes, but stamps one fresh heartbeat per node
 * for the burst, not one per member that joined: each fresh heartbeat spreads through the whole
 * cluster. On the in-memory network and a simulated clock.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { simRegistries } from './registry-sim.js';

const NODES = 3;
const FAR = 7;

it('greeting: a healed partition of 1 | 7 costs one fresh heartbeat per node, and the far side gets the nodes back', async (t) => {
  const sim = await simRegistries(1 + FAR);
  t.after(() => sim.close());
  const { network, registries } = sim;
  const [lone, ...far] = registries as [GossipRegistry, ...GossipRegistry[]];
  for (let i = 0; i < NODES; i++)
    await lone.register({ name: 'greeted', nodes: [{ id: `g${i}`, address: `10.0.4.${i + 1}:80` }] }, { ttl: 600_000 });
  const held = (r: GossipRegistry) =>
    r.getService('greeted').then(
      (s) => s.flatMap((x) => x.nodes).length,
      () => 0,
    );
  const spread = local.pushPullInterval + local.probeInterval;
  assert.ok(
    await sim.until(async () => (await Promise.all(far.map(held))).every((n) => n === NODES), spread),
    'the far side holds the nodes',
  );
  network.partition(
    [lone.address],
    far.map((r) => r.address),
  );
  // Both sides declare the other dead, delete its nodes and reap it from the member list.
  const reaped = await sim.until(
    () => lone.swim.liveMembers().length === 0 && far.every((r) => r.swim.members.get(lone.memberName) === undefined),
    120_000,
    200,
  );
  assert.ok(reaped, 'each side reaped the other');
  assert.deepEqual(await Promise.all(far.map(held)), new Array(FAR).fill(0), 'the far side deleted the nodes');
  const sentBefore = Number(lone.stats().updatesSent);
  network.heal();
  const bound = 2 * local.reconnectInterval + local.tcpTimeout + local.pushPullInterval;
  const back = await sim.until(
    async () => lone.swim.liveMembers().length === FAR && (await Promise.all(far.map(held))).every((n) => n === NODES),
    bound,
    100,
  );
  assert.ok(back, `the far side holds the nodes again within ${bound} ms: ${await Promise.all(far.map(held))}`);
  const sent = Number(lone.stats().updatesSent) - sentBefore;
  process.stderr.write(`# ${FAR} members rejoined, ${NODES} nodes: ${sent} updates published\n`);
  // One fresh heartbeat per node per probe interval in which members joined (they join over a
  // few intervals: one push/pull, then gossip of the rest), never one per node per member.
  assert.ok(sent < NODES * FAR, `${sent} updates published for ${FAR} joins of ${NODES} nodes`);
  assert.ok(sent <= NODES * 4, `${sent} updates published: at most a few per node`);
});
