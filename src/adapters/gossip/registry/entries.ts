/**
 * What a gossip registry knows: one entry per (origin member, node), last writer wins by the
 * origin's sequence number, deletes kept as tombstones well past the ttl so a late or re-gossiped
 * older update never resurrects a node, expiry on this member's own monotonic clock, and the node
 * id shown by the view owned by the newest claim among the origins that hold it (a rolling restart's
 * successor wins, its predecessor's goodbye touches only its own entry).
 * @module
 */
import type { Clock, Timer } from '../../../internal/clock.js';
import { joinKey } from '../../../internal/keys.js';
import type { Service } from '../../../registry.js';
import type { ServiceView } from '../../../view.js';

/** One node as one origin last described it. */
export interface Entry {
  readonly origin: string;
  /** `name \0 version \0 node id`. */
  readonly key: string;
  readonly seq: number;
  readonly claim: number;
  /** The service with exactly this node. */
  readonly service: Service;
  readonly deleted: boolean;
  /** The ttl the origin gave (ms). */
  readonly ttl: number;
  /** Live: when it expires; tombstone: when it is forgotten (clock ms). */
  readonly until: number;
}

/** A change as the state applies it. */
export interface EntryChange {
  origin: string;
  seq: number;
  claim: number;
  /** One node. */
  service: Service;
  deleted: boolean;
  /** Ms the entry lives from now (deletes: ignored). */
  ttl: number;
}

export interface EntriesOptions {
  clock: Clock;
  view: ServiceView;
  /** How long a tombstone outlives the ttl of what it deleted. @default 60000 */
  tombstoneMs?: number;
}

export type ApplyResult = 'applied' | 'stale';

export function nodeKey(service: Service): string {
  return joinKey(service.name, service.version, service.nodes[0]?.id ?? '');
}

/** (claim, origin): the higher owns the node id. */
function outranks(a: Entry, b: Entry): boolean {
  return a.claim !== b.claim ? a.claim > b.claim : a.origin > b.origin;
}

export class Entries {
  readonly #clock: Clock;
  readonly #view: ServiceView;
  readonly #tombstoneMs: number;
  /** key -> origin -> entry. */
  readonly #byKey = new Map<string, Map<string, Entry>>();
  /** origin -> keys it has entries for. */
  readonly #byOrigin = new Map<string, Set<string>>();
  /** What the view shows per key. */
  readonly #shown = new Map<string, Entry>();
  #timer: Timer | undefined;
  #nextSweep = Number.POSITIVE_INFINITY;
  #highestClaim = 0;
  expired = 0;

  constructor(options: EntriesOptions) {
    this.#clock = options.clock;
    this.#view = options.view;
    this.#tombstoneMs = options.tombstoneMs ?? 60_000;
  }

  /** The highest claim seen so far, for a new claim to exceed. */
  get highestClaim(): number {
    return this.#highestClaim;
  }

  /** Entries held (tombstones included). */
  get size(): number {
    let n = 0;
    for (const m of this.#byKey.values()) n += m.size;
    return n;
  }

  get(origin: string, key: string): Entry | undefined {
    return this.#byKey.get(key)?.get(origin);
  }

  /** Applies a change unless what we hold from that origin for that node is as new or newer. */
  apply(change: EntryChange): ApplyResult {
    const key = nodeKey(change.service);
    const current = this.get(change.origin, key);
    if (current && change.seq <= current.seq) return 'stale';
    if (change.claim > this.#highestClaim) this.#highestClaim = change.claim;
    const now = this.#clock.now();
    const ttl = Math.max(0, change.ttl);
    const entry: Entry = {
      origin: change.origin,
      key,
      seq: change.seq,
      claim: change.claim,
      service: change.service,
      deleted: change.deleted,
      ttl,
      until: now + (change.deleted ? ttl + this.#tombstoneMs : ttl),
    };
    this.#put(entry);
    this.#refresh(key);
    this.#schedule(entry.until);
    return 'applied';
  }

  /** Turns every live entry of `origin` into a tombstone at once (its member is dead or left). */
  dropOrigin(origin: string): number {
    const keys = this.#byOrigin.get(origin);
    if (!keys) return 0;
    let dropped = 0;
    const now = this.#clock.now();
    for (const key of keys) {
      const e = this.get(origin, key);
      if (!e || e.deleted) continue;
      this.#put({ ...e, deleted: true, until: now + e.ttl + this.#tombstoneMs });
      this.#refresh(key);
      dropped++;
    }
    if (dropped > 0) this.#schedule(now + this.#tombstoneMs);
    return dropped;
  }

  /** Live entries, each with the ms it has left: the user state of a push/pull. */
  live(): { entry: Entry; remaining: number }[] {
    const now = this.#clock.now();
    const out: { entry: Entry; remaining: number }[] = [];
    for (const m of this.#byKey.values()) {
      for (const e of m.values()) if (!e.deleted && e.until > now) out.push({ entry: e, remaining: e.until - now });
    }
    return out;
  }

  /** Entries of `origin` that are live. */
  liveOf(origin: string): Entry[] {
    const keys = this.#byOrigin.get(origin);
    if (!keys) return [];
    const out: Entry[] = [];
    for (const key of keys) {
      const e = this.get(origin, key);
      if (e && !e.deleted) out.push(e);
    }
    return out;
  }

  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #put(entry: Entry): void {
    let m = this.#byKey.get(entry.key);
    if (!m) {
      m = new Map();
      this.#byKey.set(entry.key, m);
    }
    m.set(entry.origin, entry);
    let keys = this.#byOrigin.get(entry.origin);
    if (!keys) {
      keys = new Set();
      this.#byOrigin.set(entry.origin, keys);
    }
    keys.add(entry.key);
  }

  #forget(entry: Entry): void {
    const m = this.#byKey.get(entry.key);
    if (m?.get(entry.origin) !== entry) return;
    m.delete(entry.origin);
    if (m.size === 0) this.#byKey.delete(entry.key);
    const keys = this.#byOrigin.get(entry.origin);
    keys?.delete(entry.key);
    if (keys?.size === 0) this.#byOrigin.delete(entry.origin);
  }

  /** Shows the live entry with the highest claim for `key`, or removes the node. */
  #refresh(key: string): void {
    const now = this.#clock.now();
    let best: Entry | undefined;
    for (const e of this.#byKey.get(key)?.values() ?? []) {
      if (e.deleted || e.until <= now) continue;
      if (!best || outranks(e, best)) best = e;
    }
    const shown = this.#shown.get(key);
    if (best) {
      this.#shown.set(key, best);
      this.#view.putNode(best.service, best.service.nodes[0] as Service['nodes'][number]);
    } else if (shown) {
      this.#shown.delete(key);
      const node = shown.service.nodes[0];
      if (node) this.#view.removeNode(shown.service.name, shown.service.version, node.id);
    }
  }

  #schedule(at: number): void {
    // Sweeps at most every 50 ms: a burst of renewals must not become a burst of scans.
    const when = Math.max(at, this.#clock.now() + 50);
    if (when >= this.#nextSweep) return;
    this.#timer?.cancel();
    this.#nextSweep = when;
    this.#timer = this.#clock.setTimeout(() => this.#sweep(), when - this.#clock.now() + 1);
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#nextSweep = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    const touched = new Set<string>();
    for (const m of [...this.#byKey.values()]) {
      for (const e of [...m.values()]) {
        if (e.until > now) {
          if (e.until < next) next = e.until;
          continue;
        }
        if (e.deleted) this.#forget(e);
        else {
          // Expired: kept as a tombstone so an older update still in flight cannot bring it back.
          this.expired++;
          const tomb: Entry = { ...e, deleted: true, until: now + this.#tombstoneMs };
          this.#put(tomb);
          if (tomb.until < next) next = tomb.until;
          touched.add(e.key);
        }
      }
    }
    for (const key of touched) this.#refresh(key);
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
  }
}
