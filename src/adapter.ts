/**
 * What every adapter shares: input validation, the registrations it keeps alive, the closed state,
 * deadlines on lookups, stats and the watch view. An adapter supplies only its backend operations.
 * @module
 */
import { publish } from './diagnostics.js';
import { RollcallError, throwIfAborted } from './errors.js';
import { type Clock, systemClock } from './internal/clock.js';
import { KeepAlive } from './internal/keep-alive.js';
import { type RegistrationContext, RegistrationHandle, type RegistrationOps } from './registration.js';
import type {
  Capabilities,
  CommonOptions,
  GetServiceOptions,
  ListServicesOptions,
  Logger,
  RegisterOptions,
  Registration,
  Registry,
  RegistryKind,
  RegistryStats,
  Service,
  ServiceInput,
  Watcher,
  WatchOptions,
} from './registry.js';
import { normalizeService, portableLimits, type SizeLimits } from './service.js';
import { checkDuration, withDeadline } from './time.js';
import { ServiceView } from './view.js';
import type { WatchInterest, WatchOwner } from './watcher.js';

/** Default TTL: a silently dead node is gone within 30 s, with heartbeats every 10 s. */
export const DEFAULT_TTL = 30_000;

export interface AdapterSetup {
  kind: RegistryKind;
  options: CommonOptions;
  logger: Logger;
  limits?: SizeLimits;
  /** Networked adapters refuse `localhost` addresses. */
  rejectLocalhost?: boolean;
  capabilities?: Partial<Capabilities>;
  /** Shares another view (memory handles on one named store). */
  view?: ServiceView;
  /** Time for heartbeats and the adapter's timers. @default systemClock */
  clock?: Clock;
}

export abstract class AdapterBase implements Registry {
  readonly kind: RegistryKind;
  readonly capabilities: Capabilities;
  protected readonly view: ServiceView;
  protected readonly log: Logger;
  protected readonly limits: SizeLimits;
  protected readonly defaultTtl: number;
  protected readonly clock: Clock;
  readonly #rejectLocalhost: boolean;
  readonly #handles = new Set<RegistrationHandle>();
  /** Node id -> the handle keeping it alive, so a takeover or deregister touches only the handles it names. */
  readonly #owners = new Map<string, RegistrationHandle>();
  readonly #keepAlive: KeepAlive;
  readonly #watchOwner: WatchOwner;
  readonly #context: RegistrationContext;
  #closing: Promise<void> | undefined;
  protected dropped = 0;
  protected backendErrors = 0;

  constructor(setup: AdapterSetup) {
    this.kind = setup.kind;
    this.log = setup.logger;
    this.limits = setup.limits ?? portableLimits;
    this.#rejectLocalhost = setup.rejectLocalhost ?? false;
    this.capabilities = Object.freeze({ members: false, ...setup.capabilities });
    this.defaultTtl = setup.options.ttl === undefined ? DEFAULT_TTL : checkDuration(setup.options.ttl, `${setup.kind}: ttl`, { min: 3 });
    this.view = setup.view ?? new ServiceView({ adapter: setup.kind });
    this.clock = setup.clock ?? systemClock;
    this.#keepAlive = new KeepAlive(setup.options.keepAlive !== false, this.clock);
    const keepAlive = () => this.#keepAlive.hold();
    this.#watchOwner = {
      eventsDelivered: 0,
      resyncs: 0,
      keepAlive,
    };
    this.#context = {
      adapter: this.kind,
      logger: this.log,
      clock: this.clock,
      keepAlive,
      onBackendError: (error) => this.noteBackendError(error, 'renewing a registration failed'),
      onEnd: (handle) => this.#forget(handle),
      onRemoved: (service) => publish('deregister', { adapter: this.kind, service }),
    };
  }

  // --- What adapters implement ---

  /** Stores the service in the backend and returns how to keep it alive and remove it. */
  protected abstract put(service: Service, ttl: number, signal: AbortSignal | undefined): Promise<RegistrationOps>;
  /** Removes nodes registered elsewhere or earlier (explicit `deregister(service)`). */
  protected abstract remove(service: Service): Promise<void>;
  /** Every live version of `name`, or an empty array. */
  protected abstract lookup(name: string, signal: AbortSignal): Promise<readonly Service[]>;
  /**
   * The answer from local state when it is authoritative (memory, a warm cache), else
   * `undefined` and {@link lookup} runs under the caller's deadline.
   */
  protected peek(_name: string): readonly Service[] | undefined {
    return undefined;
  }
  /** One node-less entry per live (name, version). */
  protected abstract summaries(signal: AbortSignal): Promise<Service[]>;
  /** Stops loops and sockets after registrations were removed and watchers ended. */
  protected abstract shutdown(): Promise<void>;
  /**
   * Opens the backend work behind a watch of `service` (every service when undefined), released
   * when the watcher ends. Called when a watch opens, never from the constructor, so adapter
   * fields are in place. The default, for a view that is always complete (memory), opens nothing.
   */
  protected interest(_service: string | undefined): WatchInterest | undefined {
    return undefined;
  }
  /** Adapter-specific counters. */
  protected extraStats(): Record<string, number | string> {
    return {};
  }

  // --- The Registry interface ---

  async register(input: ServiceInput, options: RegisterOptions = {}): Promise<Registration> {
    this.assertOpen();
    const service = this.normalize(input, true);
    const ttl = options.ttl === undefined ? this.defaultTtl : checkDuration(options.ttl, 'register: ttl', { min: 3 });
    const ops = await this.put(service, ttl, options.signal);
    // Re-registering a node moves it to the new handle: the old one must not renew or say goodbye for it.
    for (const ended of this.#release(service)) ended.stop();
    if (this.#closing) {
      await ops.remove(service);
      this.assertOpen();
    }
    const handle = new RegistrationHandle(service, ttl, ops, this.#context);
    this.#handles.add(handle);
    for (const node of service.nodes) this.#owners.set(node.id, handle);
    this.log.debug({ service: service.name, version: service.version, nodes: service.nodes.length, ttl }, 'registered');
    publish('register', { adapter: this.kind, service });
    return handle;
  }

  async deregister(input: ServiceInput): Promise<void> {
    this.assertOpen();
    const service = this.normalize(input, false);
    // Goodbye order: the old handles stop renewing now, the adapter lets go after the goodbye.
    const ended = this.#release(service);
    try {
      await this.remove(service);
    } finally {
      for (const e of ended) e.stop();
    }
    publish('deregister', { adapter: this.kind, service });
  }

  async getService(name: string, options: GetServiceOptions = {}): Promise<readonly Service[]> {
    this.assertOpen();
    this.checkName(name, 'getService');
    throwIfAborted(options.signal);
    // The hot path: answered from the local view without allocating a deadline.
    let found = this.peek(name);
    if (found === undefined) {
      found = await withDeadline({ ...options, what: `getService(${JSON.stringify(name)})`, adapter: this.kind }, (signal) =>
        this.lookup(name, signal),
      );
    }
    if (found.length === 0) throw new RollcallError('NOT_FOUND', `service ${JSON.stringify(name)} not found`, { adapter: this.kind });
    return found;
  }

  listServices(options: ListServicesOptions = {}): Promise<Service[]> {
    this.assertOpen();
    return withDeadline({ ...options, what: 'listServices()', adapter: this.kind }, (signal) => this.summaries(signal));
  }

  watch(options: WatchOptions = {}): Watcher {
    this.assertOpen();
    if (options.service !== undefined) this.checkName(options.service, 'watch');
    return this.view.watch(options, this.#watchOwner, (service) => this.interest(service));
  }

  stats(): RegistryStats {
    let watchersSyncing = 0;
    let watchersBlind = 0;
    const watchers = this.view.hub.watchersOf(this.#watchOwner);
    for (const w of watchers) {
      if (w.state === 'syncing') watchersSyncing++;
      else if (w.state === 'blind') watchersBlind++;
    }
    return {
      kind: this.kind,
      registrations: this.#handles.size,
      watchers: watchers.length,
      eventsDelivered: this.#watchOwner.eventsDelivered,
      resyncs: this.#watchOwner.resyncs,
      watchersSyncing,
      watchersBlind,
      blindPeriods: this.view.hub.blindPeriods,
      dropped: this.dropped,
      backendErrors: this.backendErrors,
      ...this.extraStats(),
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Ends this registry as a crashed process would: no goodbyes, no more heartbeats, no watchers. */
  protected crashNow(): void {
    if (this.#closing) return;
    for (const handle of [...this.#handles]) handle.crash();
    this.view.hub.stopOwned(this.#watchOwner);
    this.#closing = this.shutdown();
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async #close(): Promise<void> {
    const results = await Promise.allSettled([...this.#handles].map((h) => h.deregister()));
    for (const r of results) if (r.status === 'rejected') this.noteBackendError(r.reason, 'goodbye on close failed');
    this.view.hub.stopOwned(this.#watchOwner);
    await this.shutdown();
    this.log.debug({}, 'closed');
  }

  /**
   * Stops every handle of this registry from keeping `service`'s nodes alive (O(nodes in the call)).
   * Returns the handles that ended for it, whose adapter stop the caller runs.
   */
  #release(service: Service): Array<{ stop(): void }> {
    let ids: Set<string> | undefined;
    let holders: Set<RegistrationHandle> | undefined;
    for (const node of service.nodes) {
      const handle = this.#owners.get(node.id);
      if (!handle) continue;
      this.#owners.delete(node.id);
      (ids ??= new Set()).add(node.id);
      (holders ??= new Set()).add(handle);
    }
    const ended: Array<{ stop(): void }> = [];
    if (ids)
      for (const handle of holders ?? []) {
        const end = handle.dropNodes(ids);
        if (end) ended.push(end);
      }
    return ended;
  }

  #forget(handle: RegistrationHandle): void {
    this.#handles.delete(handle);
    for (const node of handle.service.nodes) if (this.#owners.get(node.id) === handle) this.#owners.delete(node.id);
  }

  // --- Helpers for adapters ---

  /**
   * Ends this registry's watchers with `error`: those of `service`, or all of them. For a backend
   * that refused a watch for good (an ACL denial); other failures are retried, not reported here.
   */
  protected failWatchers(error: Error, service?: string): void {
    this.view.hub.failOwned(this.#watchOwner, error, service);
  }

  /**
   * Tells every watcher the backend cannot be read (`reason`: consul's agent does not answer, mdns
   * has no usable interface), or can again (`undefined`). Repeating a condition changes nothing.
   */
  protected setBlind(reason: RollcallError | undefined): void {
    this.view.hub.setBlind(reason);
  }

  protected assertOpen(): void {
    if (this.#closing) throw new RollcallError('CLOSED', 'registry is closed', { adapter: this.kind });
  }

  protected normalize(input: ServiceInput, forRegister: boolean): Service {
    return normalizeService(input, {
      limits: this.limits,
      adapter: this.kind,
      rejectLocalhost: this.#rejectLocalhost,
      defaultNodeIds: forRegister,
      requireNodes: true,
    });
  }

  protected checkName(name: unknown, what: string): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw new RollcallError('INVALID_SERVICE', `${what}: name must be a non-empty string, got ${JSON.stringify(name)}`, {
        adapter: this.kind,
      });
    }
  }

  /** Counts and reports malformed input from the network. Never throws. */
  protected noteDrop(reason: string, source?: string): void {
    this.dropped++;
    publish('drop', { adapter: this.kind, reason, source });
    this.log.debug({ reason, source }, 'dropped input');
  }

  protected noteBackendError(error: unknown, message: string): void {
    this.backendErrors++;
    publish('backendError', { adapter: this.kind, error });
    this.log.warn(
      { err: error instanceof Error ? { message: error.message, code: (error as { code?: unknown }).code } : String(error) },
      message,
    );
  }

  /** Handles currently kept alive (for crash simulation and adapters that re-announce). */
  protected get handles(): ReadonlySet<RegistrationHandle> {
    return this.#handles;
  }
}

/**
 * The base of adapters whose local view is the whole truth (memory, gossip): every node they can
 * know of is already in the view, so lookups and listings read it and never wait on a backend.
 */
export abstract class LocalViewAdapter extends AdapterBase {
  protected override peek(name: string): readonly Service[] {
    return this.view.get(name);
  }

  protected async lookup(name: string): Promise<readonly Service[]> {
    return this.view.get(name);
  }

  protected async summaries(): Promise<Service[]> {
    return this.view.list();
  }
}
