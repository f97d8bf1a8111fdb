/**
 * The browser's record cache (RFC 6762 §10): records live for their TTL; a goodbye (TTL 0) keeps
 * a record one more second; a record with the cache-flush bit ends, one second later, the other
 * records of its name and type received more than a second ago; and each record asks to be
 * refreshed at 80, 85, 90 and 95 % of its TTL (plus up to 2 % jitter, §5.2) so a live record is
 * re-queried before it expires. Bounded: past `maxRecords` new records are refused.
 * @module
 */
import { foldName } from './names.js';
import { type Rr, type RrType, rdataKey } from './packet.js';

/** RFC 6762 §10.1 and §10.2: one second of grace after a goodbye or a cache flush. */
export const GRACE_MS = 1000;
const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95];
const NO_REFRESH = Number.POSITIVE_INFINITY;

export interface CachedRecord {
  rr: Rr;
  /** The record's rdata key ({@link rdataKey}): its identity among the records of its name and type. */
  readonly key: string;
  readonly fname: string;
  /** The interface it arrived on (link-local addresses need it as their zone). */
  iface: string;
  receivedAt: number;
  expiresAt: number;
  goodbye: boolean;
  /** When the next refresh point is due; infinite once none is left (or after a goodbye). */
  refreshAt: number;
  /** Index in REFRESH_POINTS of that next point. */
  refreshStep: number;
}

export type AddResult = 'new' | 'renewed' | 'revived' | 'goodbye' | 'ignored' | 'full';

export interface CacheEvents {
  /** Records of this (name, type) expired. */
  expired(fname: string, type: RrType): void;
  /** A refresh point of this record is due: query it if anyone still cares. */
  refresh(record: CachedRecord): void;
}

/** Whether this record has refresh points left after the one just due. */
export function lastRefresh(record: CachedRecord): boolean {
  return record.refreshAt === NO_REFRESH;
}

/** The refresh point `step` of a record heard at `receivedAt` (with up to 2 % jitter), or never. */
function refreshPoint(record: CachedRecord, step: number): number {
  const point = REFRESH_POINTS[step];
  if (point === undefined) return NO_REFRESH;
  return record.receivedAt + record.rr.ttl * 1000 * (point + Math.random() * 0.02);
}

/** One owner name's records, a map (rdata key -> record) per type. */
type NameEntry = { [T in RrType]?: Map<string, CachedRecord> };

export class RecordCache {
  readonly #names = new Map<string, NameEntry>();
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
    let entry = this.#names.get(fname);
    let bucket = entry?.[rr.type];
    const key = rdataKey(rr);
    const existing = bucket?.get(key);
    if (rr.ttl === 0) {
      if (!existing) return 'ignored';
      // A goodbye for a unique record takes its older data along: what an update replaced less
      // than a second ago (and so escaped the cache flush) must not outlive the goodbye.
      for (const r of rr.flush && bucket ? bucket.values() : [existing]) {
        r.goodbye = true;
        r.expiresAt = Math.min(r.expiresAt, now + GRACE_MS);
        r.refreshAt = NO_REFRESH;
      }
      this.#schedule(now + GRACE_MS);
      return 'goodbye';
    }
    if (rr.flush && bucket && bucket.size > (existing ? 1 : 0)) {
      for (const other of bucket.values()) {
        if (other.key === key || other.receivedAt >= now - GRACE_MS || other.expiresAt <= now + GRACE_MS) continue;
        other.expiresAt = now + GRACE_MS;
        other.refreshAt = NO_REFRESH;
        this.#schedule(other.expiresAt);
      }
    }
    if (existing) {
      const revived = existing.goodbye;
      existing.rr = rr;
      existing.iface = iface;
      existing.receivedAt = now;
      existing.expiresAt = now + rr.ttl * 1000;
      existing.goodbye = false;
      existing.refreshStep = 0;
      existing.refreshAt = refreshPoint(existing, 0);
      this.#schedule(existing.refreshAt);
      return revived ? 'revived' : 'renewed';
    }
    if (this.#size >= this.#max) return 'full';
    if (!entry) this.#names.set(fname, (entry = {}));
    if (!bucket) entry[rr.type] = bucket = new Map();
    const record: CachedRecord = {
      rr,
      key,
      fname,
      iface,
      receivedAt: now,
      expiresAt: now + rr.ttl * 1000,
      goodbye: false,
      refreshAt: NO_REFRESH,
      refreshStep: 0,
    };
    record.refreshAt = refreshPoint(record, 0);
    bucket.set(key, record);
    this.#size++;
    this.#schedule(record.refreshAt);
    return 'new';
  }

  /** Live records of a (folded name, type), in no particular order. */
  get(fname: string, type: RrType): CachedRecord[] {
    const bucket = this.#names.get(fname)?.[type];
    return bucket ? [...bucket.values()] : [];
  }

  /** The record to believe for a unique (name, type): the latest received, a goodbye only when nothing else is left. */
  newest(fname: string, type: RrType): CachedRecord | undefined {
    const bucket = this.#names.get(fname)?.[type];
    if (!bucket) return undefined;
    let best: CachedRecord | undefined;
    for (const r of bucket.values()) {
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
    for (const r of this.#names.get(fname)?.[type]?.values() ?? []) {
      if (r.goodbye || !accept(r)) continue;
      const left = (r.expiresAt - now) / 1000;
      if (left > r.rr.ttl / 2) out.push({ name: r.rr.name, fname, type, ttl: Math.floor(left), flush: false, data: r.rr.data });
    }
    return out;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#names.clear();
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
    const expired: Array<[string, RrType]> = [];
    const due: CachedRecord[] = [];
    for (const [fname, entry] of this.#names) {
      let left = 0;
      for (const type of Object.keys(entry) as RrType[]) {
        const bucket = entry[type] as Map<string, CachedRecord>;
        let gone = false;
        for (const [key, r] of bucket) {
          if (r.expiresAt <= now) {
            bucket.delete(key);
            this.#size--;
            gone = true;
            continue;
          }
          if (r.refreshAt <= now) {
            // Points passed while the process slept are skipped, not fired one after another.
            while (r.refreshAt <= now) r.refreshAt = refreshPoint(r, ++r.refreshStep);
            due.push(r);
          }
          next = Math.min(next, r.expiresAt, r.refreshAt);
        }
        if (gone) expired.push([fname, type]);
        if (bucket.size === 0) delete entry[type];
        else left++;
      }
      if (left === 0) this.#names.delete(fname);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
    for (const r of due) this.#events.refresh(r);
    for (const [fname, type] of expired) this.#events.expired(fname, type);
  }
}
