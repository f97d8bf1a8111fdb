/**
 * SWIM clusters on the in-memory network and a simulated clock: minutes of protocol time in
 * seconds of test time, the same run for the same seed.
 */
import { lan, type SwimConfig } from '../../src/adapters/gossip/swim/config.js';
import type { MemberEvent } from '../../src/adapters/gossip/swim/members.js';
import { SwimNode } from '../../src/adapters/gossip/swim/node.js';
import { labelBytes } from '../../src/adapters/gossip/wire/label.js';
import { NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { MemoryNetwork } from '../../src/internal/memory-network.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';

/** A seeded PRNG (mulberry32), so every random choice of a run replays. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimCluster {
  clock: SimulatedClock;
  network: MemoryNetwork;
  nodes: SwimNode[];
  /** Every event each node saw, with the simulated time. */
  events: Map<string, { at: number; event: MemberEvent }[]>;
  /** Runs the simulated clock for `ms`. */
  run(ms: number): Promise<void>;
  /** Runs until `condition` holds; returns the simulated time it took, or undefined after `maxMs`. */
  until(condition: () => boolean, maxMs: number): Promise<number | undefined>;
  /** How `viewer` sees `name` right now. */
  stateOf(viewer: SwimNode, name: string): NodeState | undefined;
  close(): Promise<void>;
}

export async function simCluster(options: {
  n: number;
  seed: number;
  config?: SwimConfig;
  loss?: number;
  latency?: number;
}): Promise<SimCluster> {
  const clock = new SimulatedClock(1_000_000);
  const random = seeded(options.seed);
  const network = new MemoryNetwork({ clock, seed: options.seed, loss: options.loss ?? 0, latency: options.latency ?? 1 });
  const config = options.config ?? lan;
  const events = new Map<string, { at: number; event: MemberEvent }[]>();
  const nodes: SwimNode[] = [];
  for (let i = 0; i < options.n; i++) {
    const name = `node-${i}`;
    const seen: { at: number; event: MemberEvent }[] = [];
    events.set(name, seen);
    nodes.push(
      new SwimNode({
        transport: network.createTransport(),
        clock,
        config,
        layers: { label: labelBytes(''), compression: false },
        name,
        incarnation: 1,
        random,
        onEvent: (event) => seen.push({ at: clock.now(), event }),
      }),
    );
  }
  const run = (ms: number) => clock.runFor(ms);
  const until = async (condition: () => boolean, maxMs: number) => {
    const start = clock.now();
    const ok = await clock.runUntil(condition, maxMs);
    return ok ? clock.now() - start : undefined;
  };
  // Everyone joins the first node, one after another, then the loops start.
  const first = nodes[0] as SwimNode;
  for (const node of nodes.slice(1)) {
    let done = false;
    void node.join([first.address]).finally(() => {
      done = true;
    });
    await clock.runUntil(() => done, 10_000);
  }
  for (const node of nodes) node.start();
  return {
    clock,
    network,
    nodes,
    events,
    run,
    until,
    stateOf: (viewer, name) => viewer.members.get(name)?.state,
    close: async () => {
      for (const node of nodes) await node.close();
    },
  };
}

/** Whether every node in `viewers` counts every other one of them alive. */
export function converged(viewers: readonly SwimNode[]): boolean {
  return viewers.every((v) => viewers.every((o) => o === v || v.members.get(o.name)?.state === NodeState.alive));
}
