/**
 * A watch-driven cache in front of any {@link Registry} (Go Micro's `registry/cache`, as a
 * decorator): the first lookup of a name opens one watch for it, every later lookup is answered
 * from memory, and the watch keeps the copy current. Concurrent cold lookups share that one watch
 * (so one backend request), names with no live node are remembered too, stale data is served (and
 * flagged) while the backend is unreachable, and names nobody looks up are evicted.
 * @module
 */

import { abortError, isRollcallError, RollcallError, throwIfAborted } from './errors.js';
import { backoffDelay as retryDelay } from './internal/backoff.js';
import { type Clock, systemClock, type Timer } from './internal/clock.js';
import type {
  GetServiceOptions,
  ListServicesOptions,
  Member,
  Node,
  RegisterOptions,
  Registration,
  Registry,
  RegistryStats,
  Service,
  ServiceInput,
  WatchEvent,
  Watcher,
  WatchOptions,
} from './registry.js';
import { SelectionState, type Selector, type SelectorOptions, selectorFor } from './selector.js';
import { checkDuration } from './time.js';

/** How a failed watch is retried: exponential backoff with full jitter. */
export interface RetryOptions {
  /**
   * Delay before the first retry, in milliseconds.
   * @default 500
   */
  initialDelay?: number;
  /**
   * The longest delay between two retries, in milliseconds.
   * @default 30000
   */
  maxDelay?: number;
}

/** Options of {@link withCache}: how long names are kept, how many, and how a failing watch is retried. */
export interface CacheOptions {
  /**
   * A name nobody looked up for this long is evicted: its watch stops and its copy is dropped. The
   * check runs every quarter of this, so an idle name goes between 1x and 1.25x this after its
   * last lookup. Go Micro's cache keeps entries for one minute too.
   * @default 60000
   */
  evictAfter?: number;
  /**
   * The same for a name that had no live node at its last lookup: remembered briefly, so a burst of
   * lookups of a missing name costs one watch, not one request each.
   * @default 5000
   */
  evictMissingAfter?: number;
  /**
   * The most names held at once (each with one watch). A new name past this evicts the least
   * recently looked-up one.
   * @default 1000
   */
  maxEntries?: number;
  /**
   * How long a cold lookup waits for its watch's first answer when the lookup names no `timeout`
   * itself, in milliseconds. It rejects `TIMEOUT` past that; the watch keeps trying.
   * @default 10000
   */
  coldTimeout?: number;
  /** Backoff between attempts to reopen a watch that ended with an error. @default { initialDelay: 500, maxDelay: 30000 } */
  retry?: RetryOptions;
  /**
   * How long {@link Selector.mark} keeps a failed node out of picks, in milliseconds.
   * @default 30000
   */
  markFor?: number;
  /** @internal Time source for eviction, backoff and marks (a simulated clock in tests). */
  clock?: Clock;
}

/**
 * Where a cached name stands:
 * - `syncing`: its watch has not answered yet (lookups wait for it);
 * - `live`: the copy follows the backend;
 * - `stale`: the copy is the last one known, served while the backend cannot be reached (the
 *   watch reports `blind`, or it failed and is being retried with backoff).
 */
export type CacheState = 'syncing' | 'live' | 'stale';

/** What {@link CachedRegistry.lookup} returns: the services and how current they are. */
export interface CachedLookup {
  /** Every live version of the service, as `getService` returns them (frozen, shared). */
  readonly services: readonly Service[];
  /** True when the backend could not be reached: `services` is the last known state. */
  readonly stale: boolean;
  /** Milliseconds since the copy was last known to be current (0 while live). */
  readonly staleFor: number;
}

/** Status of one cached name, from {@link CachedRegistry.status}. */
export interface CacheEntryStatus {
  /** Whether the copy follows the backend (see {@link CacheState}). */
  readonly state: CacheState;
  /** Live versions held (0 for a name remembered as missing). */
  readonly versions: number;
  /** Milliseconds since the copy was last known current; 0 unless `state` is `stale`. */
  readonly staleFor: number;
  /** Attempts to reopen the watch since it last worked. */
  readonly retries: number;
  /** Why the watch failed last, while it is being retried. */
  readonly error: Error | undefined;
}

/** Counters of the cache, merged into the registry's {@link RegistryStats}. */
export interface CacheStats extends RegistryStats {
  /** Names held now (found or missing). */
  readonly cacheEntries: number;
  /** Names held as missing (no live node). */
  readonly cacheMissing: number;
  /** Watches the cache holds open now: one per name, none leaked. */
  readonly cacheWatches: number;
  /** Names whose copy is stale now. */
  readonly cacheStale: number;
  /** Lookups answered from memory. */
  readonly cacheHits: number;
  /** Lookups that had to wait for a watch's first answer (shared by concurrent ones). */
  readonly cacheMisses: number;
  /** Lookups answered with stale data. */
  readonly cacheStaleServed: number;
  /** Watches opened over the cache's life (first lookups, retries, refreshes). */
  readonly cacheWatchesOpened: number;
  /** Watches that ended with an error and were retried. */
  readonly cacheWatchFailures: number;
  /** Names evicted (idle, or over `maxEntries`). */
  readonly cacheEvictions: number;
}

/** A {@link Registry} with a watch-driven cache in front of its lookups. */
export interface CachedRegistry extends Registry {
  /** The registry behind the cache. */
  readonly inner: Registry;
  /**
   * Every live version of the service, from memory once its watch has answered. Rejects
   * `NOT_FOUND` when it has no live node (remembered for `evictMissingAfter`), `TIMEOUT` when a
   * cold lookup's watch does not answer in time. Stale data is served as is: use
   * {@link CachedRegistry.lookup} to be told.
   */
  getService(name: string, options?: GetServiceOptions): Promise<readonly Service[]>;
  /** As `getService`, and says whether the answer is stale. */
  lookup(name: string, options?: GetServiceOptions): Promise<CachedLookup>;
  /** Where a cached name stands, or `undefined` when the cache does not hold it. */
  status(name: string): CacheEntryStatus | undefined;
  /** A selector over this cache; round-robin positions and marks are shared by every selector of the cache. */
  selector(options?: SelectorOptions): Selector;
  stats(): CacheStats;
}

const DEFAULTS = {
  evictAfter: 60_000,
  evictMissingAfter: 5_000,
  maxEntries: 1_000,
  coldTimeout: 10_000,
  initialDelay: 500,
  maxDelay: 30_000,
  markFor: 30_000,
} as const;
/** Sweeps per eviction period: an idle entry goes between 1x and (1 + 1/SWEEPS)x its period. */
const SWEEPS = 4;

/** Delay before retry number `attempt` (0-based): exponential, capped, with full jitter. */
export function backoffDelay(attempt: number, initialDelay: number, maxDelay: number, random: () => number = Math.random): number {
  return retryDelay(attempt, { base: initialDelay, max: maxDelay }, random);
}

class Entry {
  readonly name: string;
  /** Current versions; replaced, never mutated, so an answer handed out stays as it was. */
  services: readonly Service[] = [];
  byVersion = new Map<string, Service>();
  /** The copy a fresh watch builds until its first answer replaces `byVersion`. */
  pendingCopy: Map<string, Service> | undefined;
  /** The cache has an answer to give (live or stale). */
  hasData = false;
  watcher: Watcher | undefined;
  /** The current watch has delivered the backend's state. */
  watchSynced = false;
  /** Sweep generation of the last lookup. */
  used: number;
  /** Lookups waiting for the first answer. */
  waiting = 0;
  ready!: Promise<void>;
  resolveReady!: () => void;
  rejectReady!: (error: Error) => void;
  retryTimer: Timer | undefined;
  retries = 0;
  failed: Error | undefined;
  /** Clock time the copy was last known current (last change, or when the watch failed). */
  currentAt = 0;
  /** Clock time the watch went `blind` (the backend unreachable); undefined while it is not. */
  blindSince: number | undefined;
  /** Bumped on every change of `services`: selectors key derived lists on it. */
  revision = 0;
  /** The next round-robin position of the selectors of this name. */
  position = 0;
  /** Every node of every version, built on demand for the selector. */
  allNodes: readonly Node[] | undefined;
  /** The selector's last filtered list, the options it was filtered with, and the revision it is of. */
  filtered: readonly Node[] | undefined;
  filteredFor: object | undefined;
  filteredRevision = -1;

  constructor(name: string, generation: number) {
    this.name = name;
    this.used = generation;
    this.resetReady();
  }

  resetReady(): void {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody may be waiting; a rejection with no waiter is not an unhandled one.
    this.ready.catch(() => {});
  }
}

/**
 * Puts a watch-driven cache in front of `registry`. Lookups (`getService`, `lookup`, selectors)
 * go through the cache; `register`, `deregister`, `watch`, `listServices` and `members` go to the
 * registry (a register or deregister through the cache refreshes the name's copy, so a lookup after
 * it sees the change). `close()` stops every watch of the cache and closes the registry.
 */
export function withCache(registry: Registry, options: CacheOptions = {}): CachedRegistry {
  return new WatchCache(registry, options);
}

class WatchCache implements CachedRegistry {
  readonly inner: Registry;
  readonly kind: Registry['kind'];
  readonly capabilities: Registry['capabilities'];
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #evictSweeps: number;
  readonly #evictMissingSweeps: number;
  readonly #sweepEvery: number;
  readonly #maxEntries: number;
  readonly #coldTimeout: number;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  /** @internal Shared by every selector of this cache. */
  readonly selection: SelectionState;
  #generation = 0;
  #sweepTimer: Timer | undefined;
  #closing: Promise<void> | undefined;
  #hits = 0;
  #misses = 0;
  #staleServed = 0;
  #watchesOpened = 0;
  #watchFailures = 0;
  #evictions = 0;

  constructor(registry: Registry, options: CacheOptions) {
    this.inner = registry;
    this.kind = registry.kind;
    this.capabilities = registry.capabilities;
    this.#clock = options.clock ?? systemClock;
    const evictAfter = checkDuration(options.evictAfter ?? DEFAULTS.evictAfter, 'withCache: evictAfter');
    const evictMissingAfter = checkDuration(options.evictMissingAfter ?? DEFAULTS.evictMissingAfter, 'withCache: evictMissingAfter');
    this.#sweepEvery = Math.min(evictAfter, evictMissingAfter) / SWEEPS;
    this.#evictSweeps = Math.ceil(evictAfter / this.#sweepEvery);
    this.#evictMissingSweeps = Math.ceil(evictMissingAfter / this.#sweepEvery);
    const maxEntries = options.maxEntries ?? DEFAULTS.maxEntries;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RollcallError('INVALID_OPTIONS', `withCache: maxEntries must be a positive integer, got ${String(maxEntries)}`);
    }
    this.#maxEntries = maxEntries;
    this.#coldTimeout = checkDuration(options.coldTimeout ?? DEFAULTS.coldTimeout, 'withCache: coldTimeout', { allowInfinity: true });
    this.#initialDelay = checkDuration(options.retry?.initialDelay ?? DEFAULTS.initialDelay, 'withCache: retry.initialDelay');
    this.#maxDelay = checkDuration(options.retry?.maxDelay ?? DEFAULTS.maxDelay, 'withCache: retry.maxDelay');
    const markFor = checkDuration(options.markFor ?? DEFAULTS.markFor, 'withCache: markFor');
    this.selection = new SelectionState(this.#clock, markFor);
    if (registry.members) this.members = () => (registry.members as () => Promise<Member[]>)();
  }

  members?: () => Promise<Member[]>;

  // --- Lookups ---

  getService(name: string, options?: GetServiceOptions): Promise<readonly Service[]> {
    const entry = this.#entries.get(name);
    // The hot path: one map read and a flag, no clock, no allocation but the promise.
    if (entry?.hasData && this.#closing === undefined) {
      entry.used = this.#generation;
      this.#hits++;
      if (entry.failed !== undefined || entry.watcher?.state === 'blind') this.#staleServed++;
      if (entry.services.length === 0) return Promise.reject(notFound(name));
      return Promise.resolve(entry.services);
    }
    return this.#cold(name, options).then((e) => {
      if (e.services.length === 0) throw notFound(name);
      return e.services;
    });
  }

  async lookup(name: string, options?: GetServiceOptions): Promise<CachedLookup> {
    let entry = this.#entries.get(name);
    if (entry?.hasData && this.#closing === undefined) {
      entry.used = this.#generation;
      this.#hits++;
    } else entry = await this.#cold(name, options);
    const stale = this.#isStale(entry);
    if (stale) this.#staleServed++;
    if (entry.services.length === 0) throw notFound(name);
    return { services: entry.services, stale, staleFor: stale ? this.#staleFor(entry) : 0 };
  }

  /** @internal The entry for `name` with an answer, for selectors (no copy, no extra promise on a hit). */
  peekEntry(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    if (entry?.hasData && this.#closing === undefined) {
      entry.used = this.#generation;
      this.#hits++;
      if (entry.failed !== undefined || entry.watcher?.state === 'blind') this.#staleServed++;
      return entry;
    }
    return undefined;
  }

  /** @internal Round-robin starts over for `name` (every name when omitted). */
  resetPositions(name?: string): void {
    if (name === undefined) for (const entry of this.#entries.values()) entry.position = 0;
    else {
      const entry = this.#entries.get(name);
      if (entry) entry.position = 0;
    }
  }

  /** @internal Waits for the entry of `name` to have an answer. */
  loadEntry(name: string, options?: GetServiceOptions): Promise<Entry> {
    return this.#cold(name, options);
  }

  status(name: string): CacheEntryStatus | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    const stale = entry.hasData && this.#isStale(entry);
    return {
      state: !entry.hasData ? 'syncing' : stale ? 'stale' : 'live',
      versions: entry.services.length,
      staleFor: stale ? this.#staleFor(entry) : 0,
      retries: entry.retries,
      error: entry.failed,
    };
  }

  selector(options?: SelectorOptions): Selector {
    return selectorFor(this, options);
  }

  #isStale(entry: Entry): boolean {
    if (entry.watcher?.state === 'blind') return true;
    // A watch that failed, or was reopened after a failure and has not answered yet: the old copy.
    return entry.failed !== undefined || !entry.watchSynced;
  }

  /** Milliseconds since the copy of a stale entry was last known current. */
  #staleFor(entry: Entry): number {
    const since =
      entry.failed === undefined && entry.blindSince !== undefined ? Math.max(entry.blindSince, entry.currentAt) : entry.currentAt;
    return Math.max(0, this.#clock.now() - since);
  }

  async #cold(name: string, options: GetServiceOptions = {}): Promise<Entry> {
    this.#assertOpen();
    if (typeof name !== 'string' || name.length === 0) {
      throw new RollcallError('INVALID_SERVICE', `getService: name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    throwIfAborted(options.signal);
    let entry = this.#entries.get(name);
    if (!entry) entry = this.#create(name);
    entry.used = this.#generation;
    if (entry.hasData) {
      this.#hits++;
      return entry;
    }
    this.#misses++;
    entry.waiting++;
    try {
      await waitFor(entry.ready, options.signal, options.timeout ?? this.#coldTimeout, this.#clock, name);
    } finally {
      entry.waiting--;
    }
    return entry;
  }

  #create(name: string): Entry {
    if (this.#entries.size >= this.#maxEntries) this.#evictLeastRecent();
    const entry = new Entry(name, this.#generation);
    this.#entries.set(name, entry);
    this.#open(entry);
    this.#scheduleSweep();
    return entry;
  }

  // --- The watch behind each entry ---

  #open(entry: Entry): void {
    entry.retryTimer = undefined;
    let watcher: Watcher;
    try {
      watcher = this.inner.watch({ service: entry.name });
    } catch (error) {
      // After the caller that opened it has started waiting, so that it gets this error too.
      queueMicrotask(() => this.#watchEnded(entry, asError(error)));
      return;
    }
    this.#watchesOpened++;
    entry.watcher = watcher;
    entry.watchSynced = false;
    entry.pendingCopy = new Map();
    // A blind watch (backend unreachable) keeps the copy but makes it stale: note since when.
    if (watcher.state === 'blind') entry.blindSince = this.#clock.now();
    watcher.on('state', (state) => {
      if (entry.watcher !== watcher) return;
      if (state === 'blind') entry.blindSince ??= this.#clock.now();
      else entry.blindSince = undefined;
    });
    watcher.synced.then(
      // The last initial event reaches the pump a microtask after `synced` resolves: apply it first.
      () => queueMicrotask(() => this.#synced(entry, watcher)),
      () => {},
    );
    void this.#pump(entry, watcher);
  }

  async #pump(entry: Entry, watcher: Watcher): Promise<void> {
    let error: Error | undefined;
    try {
      for (;;) {
        const result = await watcher.next();
        if (result.done || entry.watcher !== watcher) break;
        this.#apply(entry, result.value);
      }
    } catch (err) {
      error = asError(err);
    }
    if (entry.watcher !== watcher) return; // stopped by the cache (eviction, refresh, close)
    entry.watcher = undefined;
    this.#watchEnded(entry, error ?? new RollcallError('UNAVAILABLE', `the watch of ${JSON.stringify(entry.name)} ended`));
  }

  #apply(entry: Entry, event: WatchEvent): void {
    const target = entry.pendingCopy ?? entry.byVersion;
    if (event.type === 'resync') {
      target.clear();
      for (const s of event.services) if (s.name === entry.name && s.nodes.length > 0) target.set(s.version, s);
    } else if (event.type === 'delete' || event.service.nodes.length === 0) target.delete(event.service.version);
    else target.set(event.service.version, event.service);
    if (target === entry.byVersion) this.#publish(entry);
  }

  #synced(entry: Entry, watcher: Watcher): void {
    if (entry.watcher !== watcher || entry.watchSynced) return;
    entry.watchSynced = true;
    if (entry.pendingCopy) {
      entry.byVersion = entry.pendingCopy;
      entry.pendingCopy = undefined;
    }
    entry.retries = 0;
    entry.failed = undefined;
    this.#publish(entry);
    if (!entry.hasData) {
      entry.hasData = true;
      entry.resolveReady();
    }
  }

  #publish(entry: Entry): void {
    const services = [...entry.byVersion.values()];
    services.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
    entry.services = Object.freeze(services);
    entry.allNodes = undefined;
    entry.revision++;
    entry.currentAt = this.#clock.now();
  }

  #watchEnded(entry: Entry, error: Error): void {
    entry.watchSynced = false;
    entry.pendingCopy = undefined;
    if (this.#closing !== undefined || this.#entries.get(entry.name) !== entry) return;
    if (isRollcallError(error, 'CLOSED')) {
      // The registry behind us is closed: nothing to retry, waiters learn why.
      entry.failed = error;
      if (!entry.hasData) entry.rejectReady(error);
      this.#remove(entry);
      return;
    }
    if (entry.failed === undefined && entry.hasData) entry.currentAt = this.#clock.now();
    entry.failed = error;
    this.#watchFailures++;
    if (!entry.hasData) {
      // Cold lookups waiting for this watch get its error; the next lookup waits for the retry.
      entry.rejectReady(error);
      entry.resetReady();
    }
    const delay = backoffDelay(entry.retries++, this.#initialDelay, this.#maxDelay);
    entry.retryTimer = this.#clock.setTimeout(() => this.#open(entry), delay);
  }

  /** Drops the copy of `name` and reopens its watch: the next lookup waits for the backend's current state. */
  #refresh(name: string): void {
    const entry = this.#entries.get(name);
    if (!entry || this.#closing !== undefined) return;
    const watcher = entry.watcher;
    entry.watcher = undefined;
    watcher?.stop();
    entry.retryTimer?.cancel();
    if (entry.hasData) {
      entry.hasData = false;
      entry.resetReady();
    }
    entry.failed = undefined;
    entry.retries = 0;
    this.#open(entry);
  }

  // --- Eviction ---

  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined || this.#closing !== undefined) return;
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweep(), this.#sweepEvery);
  }

  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#generation++;
    for (const entry of [...this.#entries.values()]) {
      if (entry.waiting > 0) continue;
      const idle = this.#generation - entry.used;
      const limit = entry.hasData && entry.services.length === 0 ? this.#evictMissingSweeps : this.#evictSweeps;
      // `used` is the sweep period the lookup fell in: only more than `limit` periods since is the full time.
      if (idle > limit) this.#evict(entry);
    }
    if (this.#entries.size > 0) this.#scheduleSweep();
  }

  #evictLeastRecent(): void {
    let oldest: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.waiting > 0) continue;
      if (!oldest || entry.used < oldest.used) oldest = entry;
    }
    if (!oldest) {
      throw new RollcallError('UNAVAILABLE', `cache is full: ${this.#maxEntries} names (maxEntries), each with a lookup in flight`);
    }
    this.#evict(oldest);
  }

  #evict(entry: Entry): void {
    this.#evictions++;
    this.#remove(entry);
  }

  #remove(entry: Entry): void {
    const watcher = entry.watcher;
    entry.watcher = undefined;
    watcher?.stop();
    entry.retryTimer?.cancel();
    entry.retryTimer = undefined;
    this.#entries.delete(entry.name);
    this.selection.forget(entry.name);
  }

  // --- Everything else goes to the registry ---

  async register(service: ServiceInput, options?: RegisterOptions): Promise<Registration> {
    const registration = await this.inner.register(service, options);
    this.#refresh(registration.service.name);
    return registration;
  }

  async deregister(service: ServiceInput): Promise<void> {
    await this.inner.deregister(service);
    this.#refresh(service.name);
  }

  listServices(options?: ListServicesOptions): Promise<Service[]> {
    return this.inner.listServices(options);
  }

  watch(options?: WatchOptions): Watcher {
    return this.inner.watch(options);
  }

  stats(): CacheStats {
    let missing = 0;
    let watches = 0;
    let stale = 0;
    for (const entry of this.#entries.values()) {
      if (entry.hasData && entry.services.length === 0) missing++;
      if (entry.watcher) watches++;
      if (entry.hasData && this.#isStale(entry)) stale++;
    }
    return {
      ...this.inner.stats(),
      cacheEntries: this.#entries.size,
      cacheMissing: missing,
      cacheWatches: watches,
      cacheStale: stale,
      cacheHits: this.#hits,
      cacheMisses: this.#misses,
      cacheStaleServed: this.#staleServed,
      cacheWatchesOpened: this.#watchesOpened,
      cacheWatchFailures: this.#watchFailures,
      cacheEvictions: this.#evictions,
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#sweepTimer?.cancel();
    this.#sweepTimer = undefined;
    const closed = new RollcallError('CLOSED', 'registry is closed');
    for (const entry of [...this.#entries.values()]) {
      if (!entry.hasData) entry.rejectReady(closed);
      this.#remove(entry);
    }
    await this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new RollcallError('CLOSED', 'registry is closed');
  }
}

/** @internal What selectors read from a cache. */
export type CacheEntry = Entry;

/** @internal Whether `registry` is a cache made by {@link withCache}. */
export function isWatchCache(registry: unknown): registry is CachedRegistry & {
  peekEntry(name: string): Entry | undefined;
  loadEntry(name: string, options?: GetServiceOptions): Promise<Entry>;
  resetPositions(name?: string): void;
  readonly selection: SelectionState;
} {
  return registry instanceof WatchCache;
}

function notFound(name: string): RollcallError {
  return new RollcallError('NOT_FOUND', `service ${JSON.stringify(name)} not found`);
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** Waits for `ready` within `timeout` ms, or until `signal` aborts. */
function waitFor(ready: Promise<void>, signal: AbortSignal | undefined, timeout: number, clock: Clock, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: Timer | undefined;
    const onAbort = () => {
      timer?.cancel();
      reject(abortError(signal));
    };
    if (Number.isFinite(timeout)) {
      timer = clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        reject(new RollcallError('TIMEOUT', `getService(${JSON.stringify(name)}) did not finish within ${timeout} ms`));
      }, timeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    ready.then(
      () => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
