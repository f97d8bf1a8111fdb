/**
 * A 3/2 partition of five gossip registries on the in-memory network and a simulated clock: each
 * side deletes the other's nodes, and after the heal they come back within the reconnect bound,
 * not at their origins' next renewal (ttl / 3), which is what a member greeting a rejoined peer
 * with its last update (a sequence the peer holds as a tombstone) would wait for.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { recordEvents, simRegistries } from './registry-sim.js';

const config = local;
const TTL = 300_000;
/** The derivation of registry-partition.test.ts: two reconnect rounds, a push/pull, then refutes and greetings. */
// Plus one push/pull interval: a fresh update is retransmitted only a few times (2 on the local
// preset), all copies can miss one member (about one run in 40 here), and anti-entropy repairs it.
const HEAL_BOUND =
  2 * config.reconnectInterval + config.tcpTimeout + config.probeInterval + 10 * config.gossipInterval + config.pushPullInterval;

it('partition sim: a healed 3/2 partition brings the far nodes back within the reconnect bound, before any renewal', async (t) => {
  const sim = await simRegistries(5);
  t.after(() => sim.close());
  const { clock, network, registries } = sim;
  const watches = registries.map((r) => recordEvents(r, 'split'));
  for (const [i, r] of registries.entries())
    await r.register({ name: 'split', nodes: [{ id: `n${i}`, address: `10.0.3.${i + 1}:80` }] }, { ttl: TTL });
  const count = () =>
    Promise.all(registries.map(async (r) => (await r.getService('split').catch(() => [])).flatMap((s) => s.nodes).length));
  // A push/pull interval: what repairs an update that went missing (about one run in 40 on this network).
  const spread = config.pushPullInterval + config.probeInterval;
  assert.ok(await sim.until(async () => (await count()).every((n) => n === 5), spread), `every member holds five nodes: ${await count()}`);
  const far = (i: number) => (i < 3 ? [3, 4] : [0, 1, 2]);
  network.partition(
    registries.slice(0, 3).map((r) => r.address),
    registries.slice(3).map((r) => r.address),
  );
  const cut = await sim.until(() => watches.every((w, i) => far(i).every((j) => w.events.includes(`remove:n${j}`))), 60_000, 100);
  assert.ok(cut, 'each side deleted the far nodes');
  assert.deepEqual(await count(), [3, 3, 3, 2, 2]);
  const healedAt = clock.now();
  network.heal();
  const back = await sim.until(async () => (await count()).every((n) => n === 5), HEAL_BOUND, 100);
  const views = registries.map((r) => r.swim.members.all().map((m) => `${m.name}:${m.state}`));
  assert.ok(back, `every member holds five nodes within ${HEAL_BOUND} ms: ${await count()}; members ${JSON.stringify(views)}`);
  const took = clock.now() - healedAt;
  assert.ok(HEAL_BOUND < TTL / 3, 'the bound is shorter than a renewal');
  for (const w of watches) w.stop();
  process.stderr.write(`# simulated: five nodes everywhere ${took} ms after the heal (bound ${HEAL_BOUND} ms, renewal ${TTL / 3} ms)\n`);
});
