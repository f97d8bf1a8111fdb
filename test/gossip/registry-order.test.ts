/**
 * Per-origin order and early updates on a simulated clock: the origin gate on its own (changes
 * applied in the origin's order, a gap given up after its bound, unknown origins held and then
 * applied or dropped, dead origins dropped, every hold bounded), then registries on the in-memory
 * network: an update that overtook an earlier one waits for it, an update whose origin SWIM has
 * not listed yet is applied once the origin joins (a join racing its first registration), one from
 * an origin that never joins is dropped and counted, and one from a dead origin is dropped and
 * counted unless it comes from a later incarnation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type GateDrop, type GatedUpdate, OriginGate, type OriginStatus } from '../../src/adapters/gossip/registry/origin-order.js';
import type { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';
import { forged, recordEvents, simRegistries } from './registry-sim.js';

function gate(statuses: Record<string, OriginStatus> = {}, bounds = { maxHeld: 100, maxHeldBytes: 100_000 }) {
  const clock = new SimulatedClock(0);
  const applied: string[] = [];
  const dropped: string[] = [];
  const g = new OriginGate<string>({
    clock,
    gapHoldMs: 500,
    unknownHoldMs: 2_000,
    ...bounds,
    status: (origin) => statuses[origin] ?? { state: 'alive' },
    apply: (u) => applied.push(u.item),
    drop: (u, why: GateDrop) => dropped.push(`${u.item}:${why}`),
  });
  const up = (origin: string, seq: number, prev: number | undefined, change = true, extra: Partial<GatedUpdate<string>> = {}) =>
    g.submit({ origin, seq, prev, change, incarnation: undefined, bytes: 100, item: `${origin}${seq}`, ...extra });
  return { clock, g, applied, dropped, up, statuses };
}

describe('origin gate', () => {
  it('applies an origin’s changes in its order when a later one overtakes an earlier one', () => {
    const { g, applied, up } = gate();
    up('a', 10, 0);
    up('a', 12, 11);
    up('a', 13, 12);
    assert.deepEqual(applied, ['a10'], '12 and 13 wait for 11');
    assert.equal(g.heldCount, 2);
    up('b', 5, 4);
    assert.deepEqual(applied, ['a10', 'b5'], 'another origin is not held up');
    up('a', 11, 10);
    assert.deepEqual(applied, ['a10', 'b5', 'a11', 'a12', 'a13'], 'released in sequence order');
    assert.equal(g.heldCount, 0);
    assert.equal(g.released, 2);
    // A heartbeat names the last change: it waits for it too, and does not move the head itself.
    up('a', 15, 14, false);
    up('a', 14, 13);
    assert.deepEqual(applied.slice(5), ['a14', 'a15']);
  });

  it('gives up on a missing change after its bound, not before, and goes on in order', async () => {
    const { clock, g, applied, up } = gate();
    up('a', 10, 0);
    up('a', 13, 12);
    up('a', 12, 11);
    await clock.runFor(499);
    assert.deepEqual(applied, ['a10']);
    await clock.runFor(2);
    assert.deepEqual(applied, ['a10', 'a12', 'a13'], '11 is given up on; 12 then 13');
    assert.equal(g.heldCount, 0);
    up('a', 11, 10);
    assert.deepEqual(applied.at(-1), 'a11', 'the late change still applies (the entries decide per node)');
  });

  it('holds an unknown origin until SWIM lists it, drops it if it never does; drops a dead origin unless a later life', async () => {
    const { clock, g, applied, dropped, up, statuses } = gate({ x: { state: 'unknown' }, y: { state: 'unknown' } });
    up('x', 1, 0);
    up('x', 2, 1);
    up('y', 1, 0);
    assert.deepEqual(applied, []);
    await clock.runFor(1_000);
    statuses.x = { state: 'alive' };
    g.known('x');
    assert.deepEqual(applied, ['x1', 'x2'], 'applied in order once x joined');
    await clock.runFor(1_001);
    assert.deepEqual(dropped, ['y1:unknown'], 'y never joined: dropped after the bound');
    statuses.d = { state: 'gone', incarnation: 5 };
    up('d', 1, 0, true, { incarnation: 5 });
    up('d', 2, 0, true, { incarnation: undefined });
    up('d', 3, 0, true, { incarnation: 6 });
    assert.deepEqual(dropped.slice(1), ['d1:gone', 'd2:gone'], 'dead at the same incarnation, or unsaid: dropped');
    statuses.d = { state: 'alive' };
    g.known('d');
    assert.deepEqual(applied.slice(2), ['d3'], 'a later life is applied once SWIM hears of it');
    // Dead while updates wait: they go with it.
    statuses.z = { state: 'unknown' };
    up('z', 1, 0);
    g.gone('z');
    assert.deepEqual(dropped.slice(3), ['z1:gone']);
    assert.equal(g.heldCount, 0);
  });

  it('holds at most its bounds in count and bytes: the oldest held goes first', () => {
    const statuses: Record<string, OriginStatus> = {};
    const { g, dropped, up } = gate(statuses, { maxHeld: 50, maxHeldBytes: 3_000 });
    for (let i = 0; i < 1_000; i++) {
      statuses[`u${i}`] = { state: 'unknown' };
      up(`u${i}`, 1, 0, true, { bytes: i % 2 === 0 ? 10 : 200 });
      assert.ok(g.heldCount <= 50 && g.heldBytes <= 3_000, `bounded at ${i}: ${g.heldCount}, ${g.heldBytes}`);
    }
    assert.ok(dropped.length >= 950 && dropped.every((d) => d.endsWith(':overflow')));
    assert.equal(dropped[0], 'u01:overflow', 'the oldest first');
  });
});

describe('gossip registries: order and early updates', () => {
  const stat = (r: GossipRegistry, key: string) => Number(r.stats()[key]);
  const has = (r: GossipRegistry, id: string) =>
    r.getService('forged').then(
      (s) => s.some((v) => v.nodes.some((n) => n.id === id)),
      () => false,
    );

  it('an update that overtook its origin’s earlier change waits for it; watchers see the origin’s order', async () => {
    const sim = await simRegistries(3);
    const [a, b, m] = sim.registries as [GossipRegistry, GossipRegistry, GossipRegistry];
    const watch = recordEvents(b, 'forged');
    // `m` is a real member that registers nothing: its updates here are forged, so the order is ours to choose.
    await sim.send(a, b, forged(m.memberName, 1_000, 'n0', { prev: 0 }));
    await sim.send(a, b, forged(m.memberName, 1_002, 'n2', { prev: 1_001 }));
    await sim.send(a, b, forged(m.memberName, 1_003, 'n1', { prev: 1_002, action: 'delete' }));
    await sim.clock.runFor(50);
    assert.deepEqual(watch.events, ['add:n0'], '1,002 and 1,003 wait for 1,001');
    assert.equal(b.stats().held, 2);
    await sim.send(a, b, forged(m.memberName, 1_001, 'n1', { prev: 1_000 }));
    await sim.clock.runFor(50);
    assert.deepEqual(watch.events, ['add:n0', 'add:n1', 'add:n2', 'remove:n1'], 'applied as the origin made them');
    assert.equal(b.stats().held, 0);
    assert.equal(stat(b, 'heldUpdates'), 2);
    watch.stop();
    await sim.close();
  });

  it('joins race updates: held until the origin joins, then applied; a never-joining origin is dropped and counted', async () => {
    const sim = await simRegistries(3);
    const [a, b] = sim.registries as [GossipRegistry, GossipRegistry];
    const late = await sim.add('late', true);
    assert.equal(b.swim.members.get('late'), undefined, 'b has not heard of `late`');
    await sim.send(a, b, forged('late', 5_000, 'early-1'));
    await sim.send(a, b, forged('ghost', 5_000, 'ghost-1'));
    await sim.clock.runFor(500);
    assert.equal(await has(b, 'early-1'), false, 'held, not applied');
    assert.equal(b.stats().held, 2);
    // `late` joins the cluster now: b hears of it by gossip, or at its next push/pull when the few
    // retransmissions of late's alive all went to others, and applies what waited.
    let joined = false;
    void late.swim.join([a.address]).then(() => {
      joined = true;
    });
    const catchUp = local.pushPullInterval + 2_000;
    assert.ok(await sim.until(async () => joined && (await has(b, 'early-1')), catchUp), 'applied once its origin joined');
    assert.equal(stat(b, 'unknownOriginDropped'), 0);
    // The `local` preset's unknownHoldMs (one push/pull interval and a few probe rounds), from t = 0.
    const bound = local.pushPullInterval + Math.max(5 * local.probeInterval, 25 * local.gossipInterval);
    assert.ok(await sim.until(() => stat(b, 'unknownOriginDropped') === 1, bound), 'ghost dropped after the bound');
    assert.equal(await has(b, 'ghost-1'), false);
    assert.equal(b.stats().held, 0);
    await sim.close();
  });

  it('an update from a dead origin is dropped and counted; one from its later incarnation is not', async () => {
    const sim = await simRegistries(3);
    const [a, b, d] = sim.registries as [GossipRegistry, GossipRegistry, GossipRegistry];
    const incarnation = d.swim.members.local.incarnation;
    await d.crash();
    assert.ok(await sim.until(() => b.swim.members.get(d.memberName)?.state === NodeState.dead, 20_000, 100), 'b declared d dead');
    const known = b.swim.members.get(d.memberName)?.incarnation ?? 0;
    assert.ok(known >= incarnation);
    const before = stat(b, 'deadOriginUpdates');
    await sim.send(a, b, forged(d.memberName, 9_000, 'zombie', { incarnation: known }));
    await sim.send(a, b, forged(d.memberName, 9_001, 'zombie2'));
    await sim.clock.runFor(100);
    assert.equal(stat(b, 'deadOriginUpdates') - before, 2, 'same incarnation and unsaid incarnation: dropped');
    assert.equal(await has(b, 'zombie'), false);
    await sim.send(a, b, forged(d.memberName, 9_002, 'reborn', { incarnation: known + 1 }));
    await sim.clock.runFor(100);
    assert.equal(b.stats().held, 1, 'a later life waits for SWIM to hear of it');
    assert.equal(stat(b, 'deadOriginUpdates') - before, 2);
    await sim.close();
  });
});
