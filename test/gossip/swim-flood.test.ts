/**
 * Hostile input against the member table: 100,000 `alive` datagrams for invented names cost
 * bounded memory and CPU, measured against an un-attacked baseline in the same test (the same
 * number of `alive` datagrams about members already known), are refused and counted past the
 * unconfirmed cap, and leave the real members known and alive.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { UNCONFIRMED_FLOOR } from '../../src/adapters/gossip/swim/members.js';
import { encodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import { encodeAlive, NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { converged, simCluster } from './swim-sim.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MESSAGES = 100_000;
const PER_PACKET = 50;
const VSN = Uint8Array.from([1, 5, 2, 0, 0, 0]);

/** A formed 3-member cluster (local preset), the member under attack, and the attacker's socket. */
async function floodTarget(t: TestContext) {
  const cluster = await simCluster({ n: 3, seed: 7, config: local });
  t.after(() => cluster.close());
  assert.ok(await cluster.until(() => converged(cluster.nodes), 30_000), 'cluster formed');
  return { cluster, victim: cluster.nodes[0]!, attacker: cluster.network.createTransport() };
}

/** An alive message for `name`, at a 10.x.y.z address of its own numbered `j`. */
function aliveOf(name: string, j: number, incarnation: number): Uint8Array {
  const addr = Uint8Array.from([10, (j >> 16) & 255, (j >> 8) & 255, j & 255]);
  return encodeAlive({ incarnation, node: name, addr, port: 7946, meta: new Uint8Array(0), vsn: VSN });
}

describe('SWIM member table under an alive flood', () => {
  it('100,000 invented names: table capped, refusals counted, bounded CPU and memory, real members kept', async (t) => {
    const { cluster, victim, attacker } = await floodTarget(t);
    const known = cluster.nodes[1]!;

    /** Sends MESSAGES alives in compounds over 20 simulated seconds; returns CPU ms and heap growth. */
    const flood = async (name: (i: number) => string, incarnation: number) => {
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const cpuBefore = process.cpuUsage();
      for (let i = 0; i < MESSAGES; i += PER_PACKET) {
        const parts: Uint8Array[] = [];
        for (let j = i; j < i + PER_PACKET; j++) parts.push(aliveOf(name(j), j, incarnation));
        void attacker.send(encodeCompound(parts), victim.address);
        if ((i / PER_PACKET) % 100 === 99) await cluster.run(1_000);
      }
      await cluster.run(1_000);
      const cpu = process.cpuUsage(cpuBefore);
      gc();
      return { cpuMs: (cpu.user + cpu.system) / 1000, heap: process.memoryUsage().heapUsed - heapBefore };
    };

    // Baseline: as many alives, all about a member we know, at an old incarnation (dropped as stale).
    const baseline = await flood(() => known.name, 0);
    const sizeBefore = victim.members.size;
    const attacked = await flood((i) => `invented-${i}`, 1);
    process.stderr.write(
      `# baseline ${baseline.cpuMs.toFixed(0)} ms CPU, heap ${(baseline.heap / 1024).toFixed(0)} KiB; ` +
        `attacked ${attacked.cpuMs.toFixed(0)} ms CPU, heap ${(attacked.heap / 1024).toFixed(0)} KiB; ` +
        `table ${victim.members.size}, refused ${victim.members.refusedUnconfirmed}\n`,
    );
    assert.ok(victim.members.size <= sizeBefore + UNCONFIRMED_FLOOR, `table ${victim.members.size} within the cap`);
    assert.ok(victim.members.refusedUnconfirmed >= MESSAGES - UNCONFIRMED_FLOOR, 'every name past the cap refused and counted');
    for (const other of cluster.nodes.slice(1)) assert.ok(other.members.size <= cluster.nodes.length + UNCONFIRMED_FLOOR);
    assert.ok(attacked.heap <= baseline.heap + 4 * 1024 * 1024, `heap +${attacked.heap} vs baseline +${baseline.heap}`);
    assert.ok(attacked.cpuMs <= 3 * baseline.cpuMs + 500, `CPU ${attacked.cpuMs} ms vs baseline ${baseline.cpuMs} ms`);

    // The invented names never answer: probed one a second, most die within one probe round plus
    // suspicion. (A few come back as memberlist's do: a peer that has not probed them yet lists them
    // alive in a push/pull after we reaped them.) The table stays within the cap on every node.
    await cluster.run(400_000);
    assert.ok(converged(cluster.nodes), 'real members alive in every view');
    for (const [name, seen] of cluster.events) {
      const falseDead = seen.filter((e) => e.event.type === 'leave' && cluster.nodes.some((n) => n.name === e.event.member.name));
      assert.deepEqual(falseDead, [], `${name} declared a real member dead`);
    }
    for (const node of cluster.nodes) assert.ok(node.members.size <= cluster.nodes.length + UNCONFIRMED_FLOOR);
    const invented = victim.members.all().filter((m) => m.name.startsWith('invented-') && m.state === NodeState.alive);
    assert.ok(invented.length < UNCONFIRMED_FLOOR / 4, `${invented.length} invented names still alive`);
  });
  it('a sustained flood (50 invented names a second for 15 minutes) never raises the cap: push/pull listings do not confirm', async (t) => {
    const { cluster, victim, attacker } = await floodTarget(t);
    // Each node holds at most its own gossip cap and what the victim's cap let into the cluster,
    // which peers list back in push/pull. Counting those listings as confirmation raised the cap
    // every push/pull round: a table of 324 here by the end (131 now).
    const bound = cluster.nodes.length + 2 * UNCONFIRMED_FLOOR;
    let largest = 0;
    let sent = 0;
    for (let second = 0; second < 900; second++) {
      const parts: Uint8Array[] = [];
      for (let k = 0; k < 50; k++, sent++) parts.push(aliveOf(`sustained-${sent}`, sent, 1));
      void attacker.send(encodeCompound(parts), victim.address);
      await cluster.run(1_000);
      for (const node of cluster.nodes) largest = Math.max(largest, node.members.size);
    }
    process.stderr.write(`# sustained flood: largest table ${largest} (bound ${bound})\n`);
    assert.ok(largest <= bound, `a member table reached ${largest}, over ${bound}`);
    assert.ok(converged(cluster.nodes), 'real members alive in every view');
  });
});
