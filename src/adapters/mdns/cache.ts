/**
 * The browser's record cache (RFC 6762 §10): records live for their TTL; a goodbye (TTL 0) keeps
 * a record one more second; a record with the cache-flush bit ends, one second later, the other
 * records of its name and type received more than a second ago; and each record asks to be
 * refreshed at 80, 85, 90 and 95 % of its TTL (plus up to 2 % jitter, §5.2) so a live record is
 * re-queried before it expires.
 *
 * Bounded without letting a flood lock out what someone asks for: one source (an address on the
 * link) may hold at most half of `maxRecords`, and once the cache is full a record someone wants
 * (a watch or lookup asks for its name: see CacheEvents.wanted) takes the place of the oldest
 * record nobody wants; anything else is refused and counted.
 * @module
 */
import { clampDelay, systemClock, type Timer } from '../../internal/clock.js';
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
  /** The address it came from: whose budget it counts against. */
  source: string;
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
  /** Whether a watch or lookup asks for this record now (it then outranks the rest when the cache is full); default never. */
  wanted?(fname: string, type: RrType): boolean;
}

/** How far past the oldest records a full cache looks for one nobody wants before it refuses. */
const EVICTION_SCAN = 64;

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

/**
 * The records of one (name, type): the record itself while it is the only one, as a unique
 * record (SRV, TXT, a host's address) nearly always is, and a map by rdata key once there are
 * more (the PTRs of a browse name, an address record's older data in its flush second). A new
 * node then costs the cache its records and not a map for each of them: the cache's memory, and
 * what each announcement allocates on a path that mostly runs unoptimized.
 */
type Bucket = CachedRecord | Map<string, CachedRecord>;

/** One owner name's buckets, every type a field from the start so all entries share one shape. */
interface NameEntry {
  PTR: Bucket | undefined;
  SRV: Bucket | undefined;
  TXT: Bucket | undefined;
  A: Bucket | undefined;
  AAAA: Bucket | undefined;
}

const TYPES: readonly RrType[] = ['PTR', 'SRV', 'TXT', 'A', 'AAAA'];

function find(bucket: Bucket | undefined, key: string): CachedRecord | undefined {
  if (bucket === undefined) return undefined;
  if (bucket instanceof Map) return bucket.get(key);
  return bucket.key === key ? bucket : undefined;
}

function recordsOf(bucket: Bucket | undefined): Iterable<CachedRecord> {
  if (bucket === undefined) return [];
  return bucket instanceof Map ? bucket.values() : [bucket];
}

export class RecordCache {
  readonly #names = new Map<string, NameEntry>();
  readonly #events: CacheEvents;
  readonly #max: number;
  readonly #now: () => number;
  #size = 0;
  /** The most one source may hold. */
  readonly #perSource: number;
  /** Records held per source address. */
  readonly #bySource = new Map<string, number>();
  /** Every record, oldest first: where a full cache looks for one to give up. */
  readonly #order = new Set<CachedRecord>();
  /** Records refused (cache full, or their source over its budget) and records given up for wanted ones. */
  refused = 0;
  evicted = 0;
  #timer: Timer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: { maxRecords: number; events: CacheEvents; now: () => number }) {
    this.#events = options.events;
    this.#max = options.maxRecords;
    this.#perSource = Math.ceil(options.maxRecords / 2);
    this.#now = options.now;
  }

  get size(): number {
    return this.#size;
  }

  add(rr: Rr, iface: string, now = this.#now(), source = ''): AddResult {
    const fname = rr.fname ?? foldName(rr.name);
    let entry = this.#names.get(fname);
    let bucket = entry?.[rr.type];
    const key = rdataKey(rr);
    const existing = find(bucket, key);
    if (rr.ttl === 0) {
      if (!existing) return 'ignored';
      // A goodbye for a unique record takes its older data along: what an update replaced less
      // than a second ago (and so escaped the cache flush) must not outlive the goodbye.
      for (const r of rr.flush ? recordsOf(bucket) : [existing]) {
        r.goodbye = true;
        r.expiresAt = Math.min(r.expiresAt, now + GRACE_MS);
        r.refreshAt = NO_REFRESH;
      }
      this.#schedule(now + GRACE_MS);
      return 'goodbye';
    }
    // A lone record that is this one has no others to flush.
    if (rr.flush && bucket !== undefined && bucket !== existing) this.#flushOthers(recordsOf(bucket), key, now);
    if (existing) {
      const revived = existing.goodbye;
      existing.rr = rr;
      existing.iface = iface;
      if (existing.source !== source) {
        this.#uncount(existing.source);
        existing.source = source;
        this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
      }
      existing.receivedAt = now;
      existing.expiresAt = now + rr.ttl * 1000;
      existing.goodbye = false;
      existing.refreshStep = 0;
      existing.refreshAt = refreshPoint(existing, 0);
      this.#schedule(existing.refreshAt);
      return revived ? 'revived' : 'renewed';
    }
    if ((this.#bySource.get(source) ?? 0) >= this.#perSource || (this.#size >= this.#max && !this.#makeRoom(fname, rr))) {
      this.refused++;
      return 'full';
    }
    // Room made may have been made under this very name.
    entry = this.#names.get(fname);
    bucket = entry?.[rr.type];
    if (!entry) {
      entry = { PTR: undefined, SRV: undefined, TXT: undefined, A: undefined, AAAA: undefined };
      this.#names.set(fname, entry);
    }
    const record: CachedRecord = {
      rr,
      key,
      fname,
      iface,
      source,
      receivedAt: now,
      expiresAt: now + rr.ttl * 1000,
      goodbye: false,
      refreshAt: NO_REFRESH,
      refreshStep: 0,
    };
    record.refreshAt = refreshPoint(record, 0);
    if (bucket === undefined) entry[rr.type] = record;
    else if (bucket instanceof Map) bucket.set(key, record);
    else
      entry[rr.type] = new Map([
        [bucket.key, bucket],
        [key, record],
      ]);
    this.#size++;
    this.#order.add(record);
    this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
    this.#schedule(record.refreshAt);
    return 'new';
  }

  /**
   * A full cache and a record for `fname`: when someone wants it, the oldest record nobody wants
   * (among the oldest few) is given up for it. Records found wanted on the way move to the back,
   * so a later search does not look at them again first.
   */
  #makeRoom(fname: string, rr: Rr): boolean {
    if (!this.#events.wanted?.(fname, rr.type)) return false;
    let looked = 0;
    for (const record of this.#order) {
      if (looked++ >= EVICTION_SCAN) break;
      this.#order.delete(record);
      if (this.#events.wanted?.(record.fname, record.rr.type)) {
        this.#order.add(record);
        continue;
      }
      this.#evict(record);
      this.evicted++;
      return true;
    }
    return false;
  }

  /** Takes one record out at once (not at the next sweep); its (name, type) reports expired. */
  #evict(record: CachedRecord): void {
    const entry = this.#names.get(record.fname);
    const type = record.rr.type;
    const bucket = entry?.[type];
    if (!entry || bucket === undefined) return;
    if (bucket instanceof Map) {
      bucket.delete(record.key);
      if (bucket.size === 0) entry[type] = undefined;
    } else if (bucket === record) entry[type] = undefined;
    if (TYPES.every((t) => entry[t] === undefined)) this.#names.delete(record.fname);
    this.#forget(record);
    this.#events.expired(record.fname, type);
  }

  /** Bookkeeping for a record leaving the cache. */
  #forget(record: CachedRecord): void {
    this.#size--;
    this.#order.delete(record);
    this.#uncount(record.source);
  }

  #uncount(source: string): void {
    const held = (this.#bySource.get(source) ?? 0) - 1;
    if (held > 0) this.#bySource.set(source, held);
    else this.#bySource.delete(source);
  }

  /** RFC 6762 §10.2: a record with the flush bit ends, a second from now, its name and type's other data older than a second. */
  #flushOthers(others: Iterable<CachedRecord>, key: string, now: number): void {
    for (const other of others) {
      if (other.key === key || other.receivedAt >= now - GRACE_MS || other.expiresAt <= now + GRACE_MS) continue;
      other.expiresAt = now + GRACE_MS;
      other.refreshAt = NO_REFRESH;
      this.#schedule(other.expiresAt);
    }
  }

  /** Whether one record alone is held for this (folded name, type): nothing else an assembly could pick. */
  isSole(fname: string, type: RrType): boolean {
    const bucket = this.#names.get(fname)?.[type];
    return bucket !== undefined && !(bucket instanceof Map);
  }

  /** Whether a PTR under `owner` (folded) points at `target` (folded). */
  points(owner: string, target: string): boolean {
    return find(this.#names.get(owner)?.PTR, target) !== undefined;
  }

  /** Live records of a (folded name, type), in no particular order. */
  get(fname: string, type: RrType): CachedRecord[] {
    return [...recordsOf(this.#names.get(fname)?.[type])];
  }

  /** The record to believe for a unique (name, type): the latest received, a goodbye only when nothing else is left. */
  newest(fname: string, type: RrType): CachedRecord | undefined {
    const bucket = this.#names.get(fname)?.[type];
    if (!(bucket instanceof Map)) return bucket;
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
    for (const r of recordsOf(this.#names.get(fname)?.[type])) {
      if (r.goodbye || !accept(r)) continue;
      const left = (r.expiresAt - now) / 1000;
      if (left > r.rr.ttl / 2) out.push({ name: r.rr.name, fname, type, ttl: Math.floor(left), flush: false, data: r.rr.data });
    }
    return out;
  }

  clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#names.clear();
    this.#order.clear();
    this.#bySource.clear();
    this.#size = 0;
  }

  #schedule(at: number): void {
    if (at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = systemClock.setTimeout(() => this.#sweep(), clampDelay(at - this.#now() + 1));
  }

  /** Expires and refreshes whatever is due, then sleeps until the next due time. O(records) per wake-up. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    let next = Number.POSITIVE_INFINITY;
    const expired: Array<[string, RrType]> = [];
    const due: CachedRecord[] = [];
    const visit = (r: CachedRecord): boolean => {
      if (r.expiresAt <= now) {
        this.#forget(r);
        return false;
      }
      if (r.refreshAt <= now) {
        // Points passed while the process slept are skipped, not fired one after another.
        while (r.refreshAt <= now) r.refreshAt = refreshPoint(r, ++r.refreshStep);
        due.push(r);
      }
      next = Math.min(next, r.expiresAt, r.refreshAt);
      return true;
    };
    for (const [fname, entry] of this.#names) {
      let left = 0;
      for (const type of TYPES) {
        const bucket = entry[type];
        if (bucket === undefined) continue;
        let gone = false;
        if (bucket instanceof Map) {
          for (const [key, r] of bucket) {
            if (visit(r)) continue;
            bucket.delete(key);
            gone = true;
          }
          if (bucket.size === 0) entry[type] = undefined;
        } else if (!visit(bucket)) {
          entry[type] = undefined;
          gone = true;
        }
        if (gone) expired.push([fname, type]);
        if (entry[type] !== undefined) left++;
      }
      if (left === 0) this.#names.delete(fname);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
    for (const r of due) this.#events.refresh(r);
    for (const [fname, type] of expired) this.#events.expired(fname, type);
  }
}
