/**
 * The browser's record cache (RFC 6762 §10): records live for their TTL; a goodbye (TTL 0) keeps
 * a record one more second; a record with the cache-flush bit ends, one second later, the other
 * records of its name and type received more than a second ago; and each record asks to be
 * refreshed at 80, 85, 90 and 95 % of its TTL (plus up to 2 % jitter, §5.2) so a live record is
 * re-queried before it expires. Bounded: past `maxRecords` new records are refused.
 * @module
 */
import { foldName } from './names.js';
import { type Rr, type RrType, recordKey } from './packet.js';

/** RFC 6762 §10.1 and §10.2: one second of grace after a goodbye or a cache flush. */
export const GRACE_MS = 1000;
const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95];

export interface CachedRecord {
  rr: Rr;
  readonly key: string;
  readonly fname: string;
  /** The interface it arrived on (link-local addresses need it as their zone). */
  iface: string;
  receivedAt: number;
  expiresAt: number;
  goodbye: boolean;
  /** Refresh times still ahead, earliest first. */
  refresh: number[];
}

export type AddResult = 'new' | 'renewed' | 'revived' | 'goodbye' | 'ignored' | 'full';

export interface CacheEvents {
  /** Records of this (name, type) expired. */
  expired(fname: string, type: RrType): void;
  /** A refresh point of this record is due: query it if anyone still cares. */
  refresh(record: CachedRecord): void;
}

function refreshTimes(now: number, ttlMs: number): number[] {
  return REFRESH_POINTS.map((p) => now + ttlMs * (p + Math.random() * 0.02));
}

export class RecordCache {
  readonly #buckets = new Map<string, Map<string, CachedRecord>>();
  readonly #events: CacheEvents;
  readonly #max: number;
  readonly #now: () => number;
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: { maxRecords: number; events: CacheEvents; now: () => number }) {
    this.#events = options.events;
    this.#max = options.maxRecords;
    this.#now = options.now;
  }

  get size(): number {
    return this.#size;
  }

  add(rr: Rr, iface: string, now = this.#now()): AddResult {
    const fname = rr.fname ?? foldName(rr.name);
    const bucketKey = `${fname}\u0000${rr.type}`;
    let bucket = this.#buckets.get(bucketKey);
    const key = recordKey(rr);
    const existing = bucket?.get(key);
    if (rr.ttl === 0) {
      if (!existing) return 'ignored';
      // A goodbye for a unique record takes its older data along: what an update replaced less
      // than a second ago (and so escaped the cache flush) must not outlive the goodbye.
      for (const r of rr.flush && bucket ? bucket.values() : [existing]) {
        r.goodbye = true;
        r.expiresAt = Math.min(r.expiresAt, now + GRACE_MS);
        r.refresh = [];
      }
      this.#schedule(now + GRACE_MS);
      return 'goodbye';
    }
    if (rr.flush && bucket) {
      for (const other of bucket.values()) {
        if (other.key === key || other.receivedAt >= now - GRACE_MS || other.expiresAt <= now + GRACE_MS) continue;
        other.expiresAt = now + GRACE_MS;
        other.refresh = [];
        this.#schedule(other.expiresAt);
      }
    }
    const ttlMs = rr.ttl * 1000;
    if (existing) {
      const revived = existing.goodbye;
      existing.rr = rr;
      existing.iface = iface;
      existing.receivedAt = now;
      existing.expiresAt = now + ttlMs;
      existing.goodbye = false;
      existing.refresh = refreshTimes(now, ttlMs);
      this.#schedule(existing.refresh[0] as number);
      return revived ? 'revived' : 'renewed';
    }
    if (this.#size >= this.#max) return 'full';
    if (!bucket) this.#buckets.set(bucketKey, (bucket = new Map()));
    const record: CachedRecord = {
      rr,
      key,
      fname,
      iface,
      receivedAt: now,
      expiresAt: now + ttlMs,
      goodbye: false,
      refresh: refreshTimes(now, ttlMs),
    };
    bucket.set(key, record);
    this.#size++;
    this.#schedule(record.refresh[0] as number);
    return 'new';
  }

  /** Live records of a (folded name, type), in no particular order. */
  get(fname: string, type: RrType): CachedRecord[] {
    const bucket = this.#buckets.get(`${fname}\u0000${type}`);
    return bucket ? [...bucket.values()] : [];
  }

  /** The record to believe for a unique (name, type): the latest received, a goodbye only when nothing else is left. */
  newest(fname: string, type: RrType): CachedRecord | undefined {
    let best: CachedRecord | undefined;
    for (const r of this.#buckets.get(`${fname}\u0000${type}`)?.values() ?? []) {
      if (!best || (best.goodbye && !r.goodbye) || (best.goodbye === r.goodbye && r.receivedAt >= best.receivedAt)) best = r;
    }
    return best;
  }

  /**
   * Known answers for a question (RFC 6762 §7.1): records with more than half their TTL left,
   * with the TTL they have left, so responders can suppress answers we already hold.
   */
  knownAnswers(fname: string, type: RrType, accept: (r: CachedRecord) => boolean, now = this.#now()): Rr[] {
    const out: Rr[] = [];
    for (const r of this.get(fname, type)) {
      if (r.goodbye || !accept(r)) continue;
      const left = (r.expiresAt - now) / 1000;
      if (left > r.rr.ttl / 2) out.push({ ...r.rr, ttl: Math.floor(left), flush: false });
    }
    return out;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#buckets.clear();
    this.#size = 0;
  }

  #schedule(at: number): void {
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, at - this.#now()) + 1);
    this.#timer.unref();
  }

  /** Expires and refreshes whatever is due, then sleeps until the next due time. O(records) per wake-up. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    let next = Number.POSITIVE_INFINITY;
    const expired = new Set<string>();
    const due: CachedRecord[] = [];
    for (const [bucketKey, bucket] of this.#buckets) {
      for (const [key, r] of bucket) {
        if (r.expiresAt <= now) {
          bucket.delete(key);
          this.#size--;
          expired.add(bucketKey);
          continue;
        }
        let fired = false;
        while (r.refresh.length > 0 && (r.refresh[0] as number) <= now) {
          r.refresh.shift();
          fired = true;
        }
        if (fired) due.push(r);
        next = Math.min(next, r.expiresAt, r.refresh[0] ?? Number.POSITIVE_INFINITY);
      }
      if (bucket.size === 0) this.#buckets.delete(bucketKey);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
    for (const r of due) this.#events.refresh(r);
    for (const bucketKey of expired) {
      const sep = bucketKey.indexOf('\u0000');
      this.#events.expired(bucketKey.slice(0, sep), bucketKey.slice(sep + 1) as RrType);
    }
  }
}
