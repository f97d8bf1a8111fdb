/**
 * Gossip registries on the in-memory network and a simulated clock, for tests of the registry's
 * receive path: start members (joined to the first, or alone), forge user messages from any
 * origin, and watch what a member's view does.
 */
import { encodeMessage, type RegistryMessage } from '../../src/adapters/gossip/registry/message.js';
import { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { resolveGossipSettings } from '../../src/adapters/gossip/registry/settings.js';
import { encodeUserPacket } from '../../src/adapters/gossip/wire/messages.js';
import type { WatchEvent } from '../../src/index.js';
import { MemoryNetwork } from '../../src/internal/memory-network.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';

export interface SimRegistries {
  clock: SimulatedClock;
  network: MemoryNetwork;
  registries: GossipRegistry[];
  /** Starts one more member named `name`, joined to the first member unless `alone`. */
  add(name: string, alone?: boolean): Promise<GossipRegistry>;
  /** Sends `payload` as a user message from `from` (any member's socket) to `to`. */
  send(from: GossipRegistry, to: GossipRegistry, payload: Uint8Array): Promise<void>;
  /** Runs the clock until `condition` holds; false after `maxMs`. */
  until(condition: () => boolean | Promise<boolean>, maxMs: number, step?: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function simRegistries(n: number, seed = 7): Promise<SimRegistries> {
  const clock = new SimulatedClock(1_000_000);
  const network = new MemoryNetwork({ clock, seed, latency: 1, loss: 0 });
  const registries: GossipRegistry[] = [];
  const add = async (name: string, alone = false) => {
    const transport = network.createTransport();
    const seeds = registries.length && !alone ? [String(registries[0]?.stats().address)] : [];
    const settings = { ...resolveGossipSettings({ address: seeds, preset: 'local', name }), transport, clock };
    let made: GossipRegistry | undefined;
    void GossipRegistry.start({ keepAlive: false }, settings).then((r) => {
      made = r;
    });
    await clock.runUntil(() => made !== undefined, 5_000);
    if (!made) throw new Error(`member ${name} did not start`);
    registries.push(made);
    return made;
  };
  for (let i = 0; i < n; i++) await add(`m${i}`);
  // Every member lists every other alive before a test starts.
  await clock.runUntil(() => registries.every((r) => r.swim.liveMembers().length === n - 1), 10_000);
  const until = async (condition: () => boolean | Promise<boolean>, maxMs: number, step = 50) => {
    const end = clock.now() + maxMs;
    for (;;) {
      if (await condition()) return true;
      if (clock.now() >= end) return false;
      await clock.runFor(step);
    }
  };
  return {
    clock,
    network,
    registries,
    add,
    send: (from, to, payload) => from.swim.net.sendPacket(to.address, encodeUserPacket(payload)),
    until,
    close: async () => {
      await Promise.all(registries.map((r) => (r.closed ? undefined : r.crash())));
    },
  };
}

/** An update as `origin` would send it, for one node of service `name`. */
export function forged(origin: string, seq: number, node: string, extra: Partial<RegistryMessage> = {}, name = 'forged'): Uint8Array {
  const service = { name, version: '1', metadata: {}, endpoints: [], nodes: [{ id: node, address: '10.9.0.1:80', metadata: {} }] };
  return encodeMessage({
    action: 'create',
    expires: 0n,
    data: new TextEncoder().encode(JSON.stringify(service)),
    origin,
    seq,
    ttl: 60_000,
    claim: 1,
    ...extra,
  });
}

/** Collects a registry's watch events as `add:nodeId` / `remove:nodeId`, in order. */
export function recordEvents(registry: GossipRegistry, service?: string): { events: string[]; stop(): void } {
  const events: string[] = [];
  const watcher = registry.watch(service ? { service } : {});
  void (async () => {
    for await (const e of watcher as AsyncIterable<WatchEvent>) {
      if (e.type === 'resync') continue;
      for (const node of e.added) events.push(`add:${node.id}`);
      for (const node of e.removed) events.push(`remove:${node.id}`);
    }
  })();
  return { events, stop: () => watcher.stop() };
}
