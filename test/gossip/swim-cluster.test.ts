// SWIM on the in-memory network with a simulated clock: failure detection within the bound the
// configuration gives, no false positives under loss, refutation of a false suspicion, graceful
// leave, and a healed partition merging again through reconnects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lan, local } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { converged, simCluster } from './swim-sim.js';

describe('swim cluster (simulated)', () => {
  it('join: 16 nodes joining one seed all see each other alive', async () => {
    const c = await simCluster({ n: 16, seed: 1 });
    const took = await c.until(() => converged(c.nodes), 60_000);
    assert.ok(took !== undefined, 'converged within a simulated minute');
    await c.close();
  });

  it('failure: a killed member of 128 is dead everywhere within the bound the config gives', async () => {
    const n = 128;
    const c = await simCluster({ n, seed: 7 });
    assert.ok((await c.until(() => converged(c.nodes), 120_000)) !== undefined, 'converged first');
    const victim = c.nodes[42] as (typeof c.nodes)[number];
    const survivors = c.nodes.filter((x) => x !== victim);
    await victim.close();
    // Someone probes it within one round of its probe order at the latest; the lone accuser's
    // suspicion lasts at most the maximum; the dead message then spreads by gossip.
    const min = suspicionTimeout(lan.suspicionMult, n, lan.probeInterval);
    const bound = (n - 1) * lan.probeInterval + lan.suspicionMaxTimeoutMult * min + 10 * lan.gossipInterval;
    const took = await c.until(() => survivors.every((s) => c.stateOf(s, victim.name) === NodeState.dead), bound);
    assert.ok(took !== undefined, `dead everywhere within ${bound} ms`);
    console.log(`# 128 nodes: dead everywhere ${(took / 1000).toFixed(1)} s after the kill (bound ${(bound / 1000).toFixed(1)} s)`);
    const falseDead = survivors.flatMap((s) => survivors.filter((o) => o !== s && c.stateOf(s, o.name) !== NodeState.alive));
    assert.deepEqual(falseDead, [], 'no survivor lost another survivor');
    await c.close();
  });

  it('loss: 10 % datagram loss on every link for 30 simulated minutes, 20 seeds, no false dead', async () => {
    let suspicions = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const c = await simCluster({ n: 6, seed, loss: 0.1, config: lan });
      assert.ok((await c.until(() => converged(c.nodes), 120_000)) !== undefined, `seed ${seed}: converged`);
      const falseDead: string[] = [];
      const watchFrom = new Map([...c.events].map(([k, v]) => [k, v.length]));
      await c.run(30 * 60_000);
      for (const [viewer, seen] of c.events) {
        for (const { event } of seen.slice(watchFrom.get(viewer)))
          if (event.type === 'leave') falseDead.push(`${viewer} saw ${event.member.name} die`);
      }
      suspicions += c.nodes.reduce((s, x) => s + x.stats.suspicionsStarted, 0);
      assert.deepEqual(falseDead, [], `seed ${seed}`);
      assert.ok(converged(c.nodes), `seed ${seed}: everyone still alive everywhere`);
      await c.close();
    }
    console.log(`# 20 seeds × 30 min at 10 % loss: ${suspicions} suspicions started, all refuted`);
  });

  it('refute: a member suspected while it is alive refutes at a higher incarnation and stays alive', async () => {
    const c = await simCluster({ n: 5, seed: 3, config: local });
    assert.ok((await c.until(() => converged(c.nodes), 60_000)) !== undefined);
    const [a, b] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
    const before = b.members.local.incarnation;
    a.members.suspect({ incarnation: before, node: b.name, from: a.name });
    await c.run(30_000);
    assert.ok(b.members.local.incarnation > before, 'b refuted');
    assert.ok(b.stats.refutations >= 1);
    assert.ok(converged(c.nodes), 'nobody declared b dead');
    await c.close();
  });

  it('leave: a graceful leave is seen as left, not dead, and is not refuted', async () => {
    const c = await simCluster({ n: 5, seed: 4, config: local });
    assert.ok((await c.until(() => converged(c.nodes), 60_000)) !== undefined);
    const leaver = c.nodes[2] as (typeof c.nodes)[0];
    let left = false;
    void leaver.leave(5_000).then(() => {
      left = true;
    });
    await c.until(() => left, 10_000);
    await leaver.close();
    const others = c.nodes.filter((x) => x !== leaver);
    const took = await c.until(() => others.every((o) => c.stateOf(o, leaver.name) === NodeState.left), 10_000);
    assert.ok(took !== undefined, 'left everywhere');
    await c.close();
  });

  it('partition: 3/2 split reaps each other, then the healed cluster merges through reconnects', async () => {
    const c = await simCluster({ n: 5, seed: 5, config: local });
    assert.ok((await c.until(() => converged(c.nodes), 60_000)) !== undefined);
    const a = c.nodes.slice(0, 3);
    const b = c.nodes.slice(3);
    c.network.partition(
      a.map((x) => x.address),
      b.map((x) => x.address),
    );
    const split = () => a.every((x) => b.every((y) => x.members.get(y.name) === undefined || c.stateOf(x, y.name) === NodeState.dead));
    const min = suspicionTimeout(local.suspicionMult, 5, local.probeInterval);
    const deadBound = 5 * local.probeInterval + local.suspicionMaxTimeoutMult * min;
    assert.ok((await c.until(split, deadBound)) !== undefined, 'each side declares the other dead');
    // Long enough for both sides to reap each other entirely.
    await c.run(local.gossipToTheDeadTime + 5 * local.probeInterval);
    assert.ok(
      a.every((x) => b.every((y) => x.members.get(y.name) === undefined)),
      'the other side was reaped',
    );
    c.network.heal();
    const healBound = 2 * local.reconnectInterval + local.pushPullInterval + 10_000;
    const took = await c.until(() => converged(c.nodes), healBound);
    assert.ok(took !== undefined, `one membership view again within ${healBound} ms`);
    await c.close();
  });
  it('idle: the gossip loop sleeps while nothing is queued, and news still spreads at once', async () => {
    const c = await simCluster({ n: 8, seed: 3 });
    assert.ok((await c.until(() => converged(c.nodes), 60_000)) !== undefined, 'converged');
    const rounds = () => c.nodes.reduce((sum, n) => sum + n.stats.gossipRounds, 0);
    // The join news drains: each broadcast goes out its retransmit count, then nothing is queued.
    assert.ok((await c.until(() => c.nodes.every((n) => n.queue.size === 0), 30_000)) !== undefined, 'queues drained');
    await c.run(1_000);
    const idleWindow = async () => {
      const before = rounds();
      await c.run(30_000);
      return rounds() - before;
    };
    // A ticking loop would run 8 x 30 s / 200 ms = 1,200 rounds here.
    const idle = await idleWindow();
    assert.ok(idle <= 8, `${idle} gossip rounds in 30 idle seconds`);
    // News (a member's new meta, gossiped as alive) wakes the loops: the first gossip packet goes
    // out within one gossip interval, most members have it within a few, and every member within
    // a push/pull interval (each broadcast's retransmissions can miss a member, as in memberlist).
    const [speaker, ...others] = c.nodes as [(typeof c.nodes)[0], ...typeof c.nodes];
    const sentBefore = speaker.stats.gossipPackets;
    speaker.updateMeta(new TextEncoder().encode('v2'));
    const heard = () => others.filter((o) => new TextDecoder().decode(o.members.get(speaker.name)?.meta) === 'v2').length;
    assert.ok(
      (await c.until(() => speaker.stats.gossipPackets > sentBefore, lan.gossipInterval + 1)) !== undefined,
      'woke within one interval',
    );
    await c.run(5 * lan.gossipInterval);
    assert.ok(heard() >= others.length - 2, `${heard()} of ${others.length} members had the news within five gossip intervals`);
    assert.ok(
      (await c.until(() => heard() === others.length, lan.pushPullInterval + lan.probeInterval)) !== undefined,
      'every member has it',
    );
    assert.ok((await c.until(() => c.nodes.every((n) => n.queue.size === 0), 30_000)) !== undefined, 'queues drained again');
    await c.run(1_000);
    const again = await idleWindow();
    assert.ok(again <= 8, `${again} gossip rounds in 30 idle seconds after the news`);
    await c.close();
  });
});
