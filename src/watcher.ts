/**
 * The one watch implementation every adapter uses.
 *
 * A watcher never queues events. It remembers, per (name, version) key, the state its consumer saw
 * last (the `before` of the first change since the last delivery) and builds the event when the
 * consumer asks for it, from the view's current state. So a slow consumer gets pending changes
 * coalesced per key for free, the registry never waits for a consumer, and memory per watcher is
 * bounded by `maxPending`: past it the watcher drops its bookkeeping and delivers one `resync`.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { channels, publish } from './diagnostics.js';
import { RollcallError } from './errors.js';
import type { Service, ServiceEvent, WatchEvent, Watcher, WatcherEvents, WatchOptions, WatchState } from './registry.js';
import { deepEqual, diffNodes, withoutNodes } from './service.js';

/** What a watcher reads current state from. */
export interface WatchSource {
  /** Current state of one (name, version) key; `undefined` when it has no live node. */
  current(key: string): Service | undefined;
  /** Every current (name, version) in scope, with nodes. */
  snapshot(service?: string): Service[];
  /** Every key currently in scope. */
  keys(service?: string): Iterable<string>;
}

/** An adapter's backend work for one watch scope (a service name, or every service). */
export interface WatchInterest {
  /** Resolves when the view holds the backend's state for this scope (first query answered). */
  readonly ready: Promise<void>;
  /** Called once when the watcher ends: stop backend queries nobody needs any more. */
  release(): void;
}

export interface WatchHubOptions {
  adapter: string;
}

/** Who a watcher reports to: the registry that opened it counts its events (the hub alone tracks open watchers). */
export interface WatchOwner {
  eventsDelivered: number;
  resyncs: number;
  /**
   * Called when the consumer first asks for an event: a watch being iterated keeps the process up
   * (see docs/architecture.md); the returned function lets it go when the watcher ends.
   */
  keepAlive?(): () => void;
}

const DEFAULT_MAX_PENDING = 10_000;

/** Fans view changes out to watchers. Owned by a view; adapters create watchers through it. */
export class WatchHub {
  readonly #all = new Set<ViewWatcher>();
  readonly #byName = new Map<string, Set<ViewWatcher>>();
  readonly #source: WatchSource;
  readonly #options: WatchHubOptions;
  /** Why the backend cannot be read now; undefined while it can. */
  #blind: RollcallError | undefined;
  #blindPeriods = 0;

  constructor(source: WatchSource, options: WatchHubOptions) {
    this.#source = source;
    this.#options = options;
  }

  get size(): number {
    let n = this.#all.size;
    for (const set of this.#byName.values()) n += set.size;
    return n;
  }

  /**
   * Records that `key` (of service `name`) changed from `before` to `after` (undefined: gone).
   * Call after the view holds the new state. O(watchers in scope), never waits for a consumer.
   */
  notify(name: string, key: string, before: Service | undefined, after: Service | undefined): void {
    for (const w of this.#all) w.mark(key, before, after);
    const named = this.#byName.get(name);
    if (named) for (const w of named) w.mark(key, before, after);
  }

  /**
   * Opens a watcher; `interest` is the adapter's backend work for its scope (none where the view is
   * always complete, as on memory), released when the watcher ends.
   */
  watch(
    options: WatchOptions = {},
    owner: WatchOwner = detachedOwner(),
    interest?: (service: string | undefined) => WatchInterest | undefined,
  ): Watcher {
    const watcher = new ViewWatcher(this, this.#source, options, owner);
    if (options.service === undefined) this.#all.add(watcher);
    else {
      let set = this.#byName.get(options.service);
      if (!set) this.#byName.set(options.service, (set = new Set()));
      set.add(watcher);
    }
    watcher.start(interest?.(options.service));
    return watcher;
  }

  /** Why the backend cannot be read now (every watcher is `blind`); undefined while it can. */
  get blindReason(): RollcallError | undefined {
    return this.#blind;
  }

  /** Times the backend became unreadable. */
  get blindPeriods(): number {
    return this.#blindPeriods;
  }

  /**
   * The adapters' signal: `reason` when the backend cannot be read (consul: the agent does not
   * answer; mdns: no usable interface; gossip: no peer reachable), `undefined` once it answers
   * again. Every watcher's state follows; repeating the same condition changes nothing.
   */
  setBlind(reason: RollcallError | undefined): void {
    if (reason === undefined) {
      if (this.#blind === undefined) return;
      this.#blind = undefined;
    } else {
      const was = this.#blind;
      this.#blind = reason;
      if (was !== undefined) return;
      this.#blindPeriods++;
    }
    for (const w of this.#watchers()) w.refreshState();
  }

  *#watchers(): Iterable<ViewWatcher> {
    yield* [...this.#all];
    for (const set of [...this.#byName.values()]) yield* [...set];
  }

  /** Every open watcher `owner` opened. */
  watchersOf(owner: WatchOwner): Watcher[] {
    return this.#owned(owner, undefined);
  }

  /** Ends every watcher `owner` opened (registry close or crash). */
  stopOwned(owner: WatchOwner): void {
    for (const w of this.#owned(owner, undefined)) w.stop();
  }

  /**
   * Ends `owner`'s watchers in scope with an error (a backend refused the watch for good): those of
   * `service`, or every one without it.
   */
  failOwned(owner: WatchOwner, error: Error, service?: string): void {
    for (const w of this.#owned(owner, service)) w.fail(error);
  }

  #owned(owner: WatchOwner, service: string | undefined): ViewWatcher[] {
    const scope = service === undefined ? this.#watchers() : (this.#byName.get(service) ?? []);
    return [...scope].filter((w) => w.owner === owner);
  }

  /** @internal */
  remove(watcher: ViewWatcher, service: string | undefined): void {
    if (service === undefined) this.#all.delete(watcher);
    else {
      const set = this.#byName.get(service);
      set?.delete(watcher);
      if (set?.size === 0) this.#byName.delete(service);
    }
  }

  get adapter(): string {
    return this.#options.adapter;
  }
}

/** Listener exceptions are the listener's bug: they surface as uncaught, never break the signalling adapter. */
function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

function detachedOwner(): WatchOwner {
  return { eventsDelivered: 0, resyncs: 0 };
}

type Result = IteratorResult<WatchEvent, undefined>;

class ViewWatcher extends EventEmitter<WatcherEvents> implements Watcher {
  readonly #hub: WatchHub;
  /** @internal */
  readonly owner: WatchOwner;
  readonly #source: WatchSource;
  readonly #service: string | undefined;
  readonly #maxPending: number;
  readonly #signal: AbortSignal | undefined;
  /** key -> the state the consumer saw last (undefined: nothing). Insertion order = delivery order. */
  readonly #pending = new Map<string, Service | undefined>();
  #resync = false;
  #done = false;
  #error: Error | undefined;
  #waiter: ((result: Result) => void) | undefined;
  #failWaiter: ((error: Error) => void) | undefined;
  #interest: WatchInterest | undefined;
  /** Keys of the initial snapshot not yet delivered; undefined until the backend is ready. */
  #unsynced: Set<string> | undefined;
  #resolveSynced!: () => void;
  readonly synced: Promise<void>;
  readonly #onAbort = () => this.stop();
  /** The backend answered for this scope (its interest is ready). */
  #ready = false;
  /** The consumer has asked for an event at least once. */
  #iterating = false;
  #state: WatchState = 'syncing';
  /** Lets the process go again; set while the consumer iterates. */
  #letGo: (() => void) | undefined;

  constructor(hub: WatchHub, source: WatchSource, options: WatchOptions, owner: WatchOwner) {
    super();
    this.#hub = hub;
    this.owner = owner;
    this.#source = source;
    this.#service = options.service;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!(Number.isInteger(this.#maxPending) && this.#maxPending > 0)) {
      throw new RollcallError('INVALID_OPTIONS', `watch: maxPending must be a positive integer, got ${options.maxPending}`);
    }
    this.#signal = options.signal;
    this.synced = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
    // The consumer has seen nothing yet: everything already known is pending as "new".
    for (const key of source.keys(this.#service)) this.#pending.set(key, undefined);
  }

  get state(): WatchState {
    return this.#state;
  }

  get blindReason(): RollcallError | undefined {
    return this.#state === 'blind' ? this.#hub.blindReason : undefined;
  }

  /** @internal Recomputes the state from the backend's condition and tells listeners of a change. */
  refreshState(): void {
    if (this.#done) return;
    const reason = this.#hub.blindReason;
    const state: WatchState = reason ? 'blind' : this.#ready ? 'live' : 'syncing';
    if (state === this.#state) return;
    this.#state = state;
    try {
      this.emit('state', state, reason);
    } catch (error) {
      rethrowLater(error);
    }
  }

  /** @internal */
  start(interest: WatchInterest | undefined): void {
    this.#interest = interest;
    // Without backend work the view is always complete (memory): live from the first moment.
    this.#ready = interest === undefined;
    this.#state = this.#hub.blindReason ? 'blind' : this.#ready ? 'live' : 'syncing';
    if (this.#signal?.aborted) {
      this.stop();
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    const ready = interest?.ready ?? Promise.resolve();
    ready.then(
      () => {
        if (this.#done) return;
        this.#ready = true;
        this.refreshState();
        // Nobody iterates yet: the snapshot waits for them as the first events, so the watch is
        // synced now. A consumer already iterating is synced once the snapshot was handed over.
        this.#unsynced = new Set(this.#iterating ? this.#pending.keys() : []);
        this.#checkSynced();
      },
      (error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** @internal Records a change of `key` from `before` to `after` (the view's state now). */
  mark(key: string, before: Service | undefined, after: Service | undefined): void {
    if (this.#done || this.#resync) return;
    if (this.#waiter && this.#pending.size === 0) {
      // The consumer is waiting and has seen everything else: this change is the next event as it stands.
      this.#unsynced?.delete(key);
      const event = buildEvent(before, after);
      if (event) this.#deliver(event);
      else this.#checkSynced();
      return;
    }
    if (!this.#pending.has(key)) {
      if (this.#pending.size >= this.#maxPending) {
        // Coalescing cannot keep up: forget the details, the consumer gets the whole state instead.
        this.#pending.clear();
        this.#resync = true;
      } else this.#pending.set(key, before);
    }
    if (this.#waiter) {
      const event = this.#take();
      if (event) this.#deliver(event);
    }
  }

  next(): Promise<Result> {
    this.#iterating = true;
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    this.#letGo ??= this.owner.keepAlive?.();
    const event = this.#take();
    if (event) {
      this.#count(event);
      return Promise.resolve({ done: false, value: event });
    }
    return new Promise<Result>((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  return(): Promise<Result> {
    this.stop();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  stop(): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    const waiter = this.#waiter;
    this.#waiter = this.#failWaiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  /** @internal Ends the iteration with an error. */
  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#cleanup();
    const reject = this.#failWaiter;
    this.#waiter = this.#failWaiter = undefined;
    reject?.(error);
  }

  #cleanup(): void {
    this.#pending.clear();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#hub.remove(this, this.#service);
    this.#letGo?.();
    this.#letGo = undefined;
    const interest = this.#interest;
    this.#interest = undefined;
    interest?.release();
  }

  #deliver(event: WatchEvent): void {
    const waiter = this.#waiter;
    this.#waiter = this.#failWaiter = undefined;
    this.#count(event);
    waiter?.({ done: false, value: event });
  }

  #count(event: WatchEvent): void {
    this.owner.eventsDelivered++;
    if (channels.watchEvent.hasSubscribers) publish('watchEvent', { adapter: this.#hub.adapter, event });
    this.#checkSynced();
  }

  /** Builds the next event from pending keys, skipping keys whose state ended where it started. */
  #take(): WatchEvent | undefined {
    if (this.#resync) {
      this.#resync = false;
      this.owner.resyncs++;
      this.#unsynced?.clear();
      const services = this.#source.snapshot(this.#service);
      if (channels.watchResync.hasSubscribers) publish('watchResync', { adapter: this.#hub.adapter, service: this.#service });
      return Object.freeze({ type: 'resync', services: Object.freeze(services) });
    }
    for (const [key, before] of this.#pending) {
      this.#pending.delete(key);
      this.#unsynced?.delete(key);
      const event = buildEvent(before, this.#source.current(key));
      if (event) return event;
    }
    this.#checkSynced();
    return undefined;
  }

  #checkSynced(): void {
    if (this.#unsynced?.size === 0) {
      this.#unsynced = undefined;
      this.#resolveSynced();
    }
  }
}

/** The event that takes a consumer from `before` to `after`, or undefined when they are the same. */
export function buildEvent(before: Service | undefined, after: Service | undefined): ServiceEvent | undefined {
  if (before === after) return undefined;
  if (!after || after.nodes.length === 0) {
    if (!before || before.nodes.length === 0) return undefined;
    return Object.freeze({ type: 'delete', service: withoutNodes(before), added: [], updated: [], removed: before.nodes });
  }
  if (!before || before.nodes.length === 0) {
    return Object.freeze({ type: 'create', service: after, added: after.nodes, updated: [], removed: [] });
  }
  if (deepEqual(before, after)) return undefined;
  const { added, updated, removed } = diffNodes(before.nodes, after.nodes);
  return Object.freeze({ type: 'update', service: after, added, updated, removed });
}
