/**
 * The broadcast queue (memberlist queue.go, TransmitLimitedQueue): messages piggyback on probes and
 * gossip until each was sent `retransmitLimit(mult, n)` times, sized from the live cluster (Go
 * Micro sized it from its seed list and so sent a first node's updates once). Fresher messages go
 * first; within a round, larger ones first so small ones fill the gaps. A newer broadcast about the
 * same subject replaces the queued one, so a late "alive" can never resurrect a node after "dead".
 * @module
 */
import { retransmitLimit } from './timing.js';

export interface Broadcast {
  /** The encoded message as it goes into a compound. */
  readonly message: Uint8Array;
  /**
   * What the broadcast is about (`node:<name>` for membership). A newer broadcast with the same
   * name replaces a queued one; without a name a broadcast is unique and replaces nothing.
   */
  readonly name?: string | undefined;
  /** Goes out ahead of everything queued (a graceful leave). */
  readonly urgent?: boolean | undefined;
  /** Called once when it will not be sent again: its last transmit, replaced, or pruned. */
  finished?(): void;
}

interface Entry {
  readonly b: Broadcast;
  readonly len: number;
  transmits: number;
  /** Replaced or pruned while still in its bucket: skipped when reached, dropped then. */
  dead: boolean;
}

/**
 * The messages sent the same number of times, by exact length: cluster messages come in few
 * distinct lengths, so finding the largest one that fits is a binary search over the lengths and
 * a pop from that bucket, and replacing one is marking it dead (memberlist uses a B-tree for the
 * same O(log n); a sorted array paid a memmove per insert that grew with the queue).
 */
class Tier {
  /** Distinct lengths present, largest first. */
  readonly lengths: number[] = [];
  /** Per length, newest last; entries marked dead are skipped and dropped when reached. */
  readonly buckets = new Map<number, Entry[]>();
  live = 0;
  dead = 0;

  push(e: Entry): void {
    let bucket = this.buckets.get(e.len);
    if (!bucket) {
      bucket = [];
      this.buckets.set(e.len, bucket);
      this.lengths.splice(firstAtMost(this.lengths, e.len), 0, e.len);
    }
    bucket.push(e);
    this.live++;
  }

  /** Takes the newest live entry among the largest that are at most `free` bytes. */
  popFitting(free: number): Entry | undefined {
    for (let i = firstAtMost(this.lengths, free); i < this.lengths.length; ) {
      const len = this.lengths[i] as number;
      const bucket = this.buckets.get(len) as Entry[];
      let e = bucket.pop();
      while (e?.dead) {
        this.dead--;
        e = bucket.pop();
      }
      if (bucket.length === 0) {
        this.buckets.delete(len);
        this.lengths.splice(i, 1);
      }
      if (e) {
        this.live--;
        return e;
      }
    }
    return undefined;
  }

  /** Marks an entry gone; compacts once the dead outnumber the living, so memory stays bounded. */
  kill(e: Entry): void {
    e.dead = true;
    this.live--;
    this.dead++;
    if (this.dead > this.live + 64) this.#compact();
  }

  /** Live entries, the stalest (oldest in the bucket, smallest) first. */
  *stalestFirst(): Generator<Entry> {
    for (let i = this.lengths.length - 1; i >= 0; i--) {
      for (const e of this.buckets.get(this.lengths[i] as number) as Entry[]) if (!e.dead) yield e;
    }
  }

  #compact(): void {
    for (let i = this.lengths.length - 1; i >= 0; i--) {
      const len = this.lengths[i] as number;
      const kept = (this.buckets.get(len) as Entry[]).filter((e) => !e.dead);
      if (kept.length === 0) {
        this.buckets.delete(len);
        this.lengths.splice(i, 1);
      } else this.buckets.set(len, kept);
    }
    this.dead = 0;
  }
}

/** Index of the first of `lengths` (sorted descending) that is at most `n`. */
function firstAtMost(lengths: number[], n: number): number {
  let lo = 0;
  let hi = lengths.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((lengths[mid] as number) > n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface QueueOptions {
  /** memberlist RetransmitMult. */
  retransmitMult: number;
  /** The live cluster size, read at every round. */
  numNodes: () => number;
  /** Called after every `queue()`: the gossip loop sleeps while nothing is queued and wakes here. */
  onQueued?: () => void;
}

export class TransmitLimitedQueue {
  readonly #mult: number;
  readonly #numNodes: () => number;
  readonly #onQueued: (() => void) | undefined;
  /** Tier t holds entries sent t times; tier -1 holds urgent ones not yet sent. */
  readonly #tiers = new Map<number, Tier>();
  readonly #named = new Map<string, Entry>();
  #size = 0;

  constructor(options: QueueOptions) {
    this.#mult = options.retransmitMult;
    this.#numNodes = options.numNodes;
    this.#onQueued = options.onQueued;
  }

  /** Messages waiting to be sent again. */
  get size(): number {
    return this.#size;
  }

  /** How many times each broadcast is sent at the current cluster size. */
  get transmitLimit(): number {
    return retransmitLimit(this.#mult, this.#numNodes());
  }

  /** Queues `b`, finishing a queued broadcast with the same name. */
  queue(b: Broadcast, initialTransmits = 0): void {
    const entry: Entry = { b, len: b.message.byteLength, transmits: b.urgent ? -1 : initialTransmits, dead: false };
    if (b.name !== undefined) {
      const old = this.#named.get(b.name);
      if (old) {
        this.#kill(old);
        old.b.finished?.();
      }
      this.#named.set(b.name, entry);
    }
    this.#insert(entry);
    this.#onQueued?.();
  }

  /** Whether a broadcast with this name is queued. */
  has(name: string): boolean {
    return this.#named.has(name);
  }

  /**
   * Takes messages for one packet: at most `limit` bytes, counting `overhead` per message (the
   * compound's length prefix). Fresh tiers first, the largest message that still fits first.
   */
  take(overhead: number, limit: number): Uint8Array[] {
    if (this.#size === 0) return [];
    const transmitLimit = this.transmitLimit;
    const out: Uint8Array[] = [];
    // Moved up a tier only after the walk, or the walk would meet them again in the next tier.
    const reinsert: Entry[] = [];
    let used = 0;
    for (const t of [...this.#tiers.keys()].sort((a, b) => a - b)) {
      const tier = this.#tiers.get(t) as Tier;
      for (;;) {
        const free = limit - used - overhead;
        if (free <= 0) break;
        const e = tier.popFitting(free);
        if (!e) break;
        this.#size--;
        used += overhead + e.len;
        out.push(e.b.message);
        const sent = Math.max(0, e.transmits) + 1;
        if (sent >= transmitLimit) {
          this.#forget(e);
          e.b.finished?.();
        } else {
          e.transmits = sent;
          reinsert.push(e);
        }
      }
      if (tier.live === 0) this.#tiers.delete(t);
      if (limit - used - overhead <= 0) break;
    }
    // Newest last, so that within a bucket the newest is taken first next time.
    for (let i = reinsert.length - 1; i >= 0; i--) this.#insert(reinsert[i] as Entry);
    return out;
  }

  /** Keeps the `maxRetain` freshest messages and finishes the rest. */
  prune(maxRetain: number): void {
    for (const t of [...this.#tiers.keys()].sort((a, b) => b - a)) {
      if (this.#size <= maxRetain) return;
      const tier = this.#tiers.get(t) as Tier;
      const doomed: Entry[] = [];
      for (const e of tier.stalestFirst()) {
        if (this.#size - doomed.length <= maxRetain) break;
        doomed.push(e);
      }
      for (const e of doomed) {
        this.#kill(e);
        e.b.finished?.();
      }
    }
  }

  /** Finishes and drops everything. */
  reset(): void {
    const all = [...this.#tiers.values()].flatMap((tier) => [...tier.stalestFirst()]);
    this.#tiers.clear();
    this.#named.clear();
    this.#size = 0;
    for (const e of all) e.b.finished?.();
  }

  #insert(e: Entry): void {
    let tier = this.#tiers.get(e.transmits);
    if (!tier) {
      tier = new Tier();
      this.#tiers.set(e.transmits, tier);
    }
    tier.push(e);
    this.#size++;
  }

  #kill(e: Entry): void {
    const tier = this.#tiers.get(e.transmits);
    if (!tier || e.dead) return;
    tier.kill(e);
    this.#size--;
    if (tier.live === 0) this.#tiers.delete(e.transmits);
    this.#forget(e);
  }

  #forget(e: Entry): void {
    const name = e.b.name;
    if (name !== undefined && this.#named.get(name) === e) this.#named.delete(name);
  }
}
