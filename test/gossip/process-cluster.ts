/**
 * A gossip cluster of child-process registries for the real-process registry tests: started
 * through one seed, watched from the parent with the parent's clock, and polled until a condition holds.
 */
import type { GossipOptions } from '../../src/adapters/gossip/index.js';
import type { WatchEvent } from '../../src/index.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every 100 ms; resolves with the ms it took, rejects naming `what` after `ms`. */
export async function until(what: string, ms: number, condition: () => Promise<boolean> | boolean): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await condition()) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

/**
 * Starts one member per entry of `each` (merged over `base`), the first without seeds and the
 * others joining it; `started` receives every member as soon as it exists, so teardown finds it
 * even when a later one fails to start.
 */
export async function startCluster(
  base: GossipOptions,
  each: readonly GossipOptions[],
  started: RemoteRegistry[],
): Promise<RemoteRegistry[]> {
  const [head, ...tail] = each;
  const first = await spawnRegistry({ options: { ...base, ...head, kind: 'gossip' } });
  started.push(first);
  const seed = String((await first.remoteStats()).address);
  const rest = await Promise.all(
    tail.map(async (options) => {
      const member = await spawnRegistry({ options: { ...base, ...options, kind: 'gossip', address: seed } });
      started.push(member);
      return member;
    }),
  );
  return [first, ...rest];
}

/** Names of the members `viewer` holds alive. */
export async function aliveNames(viewer: RemoteRegistry): Promise<string[]> {
  return (await viewer.members())
    .filter((m) => m.status === 'alive')
    .map((m) => m.name)
    .sort();
}

/** A watch on `service` in a child, recording when each node was added or removed (parent clock). */
export function record(registry: RemoteRegistry, service: string) {
  const events: { at: number; what: string }[] = [];
  const watcher = registry.watch({ service });
  void (async () => {
    for await (const e of watcher as AsyncIterable<WatchEvent>) {
      if (e.type === 'resync') continue;
      for (const n of e.added) events.push({ at: Date.now(), what: `add:${n.id}` });
      for (const n of e.removed) events.push({ at: Date.now(), what: `remove:${n.id}` });
    }
  })();
  return {
    events,
    /** When `what` (e.g. `remove:n1`) was first recorded at or after `since`. */
    firstAt: (what: string, since = 0) => events.find((e) => e.what === what && e.at >= since)?.at,
    stop: () => watcher.stop(),
  };
}

export type Recording = ReturnType<typeof record>;
