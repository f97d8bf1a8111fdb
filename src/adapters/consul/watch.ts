/**
 * Watches: which services are followed, and how. Watchers share one query per service (reference
 * counted through {@link WatchInterest}); a watch of every service follows `/v1/catalog/services`
 * and follows each name in it. While the queries fit the connection cap, each followed service has
 * its own blocking query on `/v1/health/service/:name` (lowest latency); past the cap, two
 * aggregate queries stand in for all of them (see aggregate.ts). Either way the view is fed with
 * the passing instances of each followed service, so a crashed node leaves watches about one TTL
 * after its last heartbeat, long before Consul's reaper removes it from the catalog.
 * @module
 */
import { RollcallError } from '../../errors.js';
import type { Service } from '../../registry.js';
import { deepEqual } from '../../service.js';
import type { ServiceView } from '../../view.js';
import type { WatchInterest } from '../../watcher.js';
import { AggregateFollower } from './aggregate.js';
import { BlockingQuery } from './blocking.js';
import type { DecodedHealth, InstanceCache } from './decode.js';
import { isFatal } from './errors.js';
import type { ConsulReader } from './queries.js';

export interface WatchContext {
  reader: ConsulReader;
  view: ServiceView;
  onBackendError(error: unknown, message: string): void;
  onDrop(reason: string, count: number): void;
  /** Watchers cannot see Consul (`reason`), or can again (undefined). Called on every change. */
  onBlind(reason: RollcallError | undefined): void;
  /** Ends the registry's watchers of `service` (all without one) with `error`. */
  failWatchers(error: Error, service: string | undefined): void;
}

interface Followed {
  readonly name: string;
  /** The view holds an answer of the backend for it. */
  synced: boolean;
  /** The last read succeeded: lookups may answer from the view. */
  fresh: boolean;
  loop: BlockingQuery<DecodedHealth> | undefined;
  consulNodes: ReadonlySet<string>;
  /** The last answer, to tell a wake-up without change. */
  services: readonly Service[];
  instances: InstanceCache | undefined;
}

interface Waiter {
  readonly service: string | undefined;
  readonly resolve: () => void;
}

export type WatchMode = 'per-service' | 'aggregate';

/** Consul's own service is infrastructure, not something to discover. */
export const CONSUL_SERVICE = 'consul';

export class ConsulWatch {
  readonly #ctx: WatchContext;
  readonly #named = new Map<string, number>();
  #all = 0;
  readonly #followed = new Map<string, Followed>();
  readonly #waiters = new Set<Waiter>();
  #catalogLoop: BlockingQuery<Map<string, readonly string[]>> | undefined;
  /** Last answer of the catalog loop; undefined until one came (or while it does not run). */
  #catalog: Map<string, readonly string[]> | undefined;
  #catalogFresh = false;
  #aggregate: AggregateFollower | undefined;
  #mode: WatchMode = 'per-service';
  #closed = false;
  /** Queries whose last attempt failed, by loop: while any has, watchers cannot see Consul. */
  readonly #failing = new Map<string, RollcallError>();

  constructor(ctx: WatchContext) {
    this.#ctx = ctx;
  }

  get mode(): WatchMode {
    return this.#mode;
  }

  /** Blocking queries running now. */
  get queries(): number {
    let n = this.#catalogLoop ? 1 : 0;
    for (const f of this.#followed.values()) if (f.loop) n++;
    return n + (this.#aggregate ? 1 : 0);
  }

  get followedCount(): number {
    return this.#followed.size;
  }

  interest(service: string | undefined): WatchInterest {
    if (service === undefined) this.#all++;
    else this.#named.set(service, (this.#named.get(service) ?? 0) + 1);
    let waiter: Waiter | undefined;
    const ready = new Promise<void>((resolve) => {
      waiter = { service, resolve };
      this.#waiters.add(waiter);
    });
    this.#reconcile();
    let released = false;
    return {
      ready,
      release: () => {
        if (released) return;
        released = true;
        if (waiter) this.#waiters.delete(waiter);
        if (service === undefined) this.#all--;
        else {
          const n = (this.#named.get(service) ?? 1) - 1;
          if (n > 0) this.#named.set(service, n);
          else this.#named.delete(service);
        }
        this.#reconcile();
      },
    };
  }

  /** True when the view holds a current answer for `name`: a lookup need not ask Consul. */
  fresh(name: string): boolean {
    const f = this.#followed.get(name);
    if (!f?.synced || !f.fresh) return false;
    return this.#mode === 'per-service' || (this.#catalogFresh && this.#aggregate?.healthy === true);
  }

  /** True when the view holds every service (a watch of everything is synced and current). */
  complete(): boolean {
    if (this.#all === 0 || !this.#catalogFresh || this.#catalog === undefined) return false;
    for (const f of this.#followed.values()) if (!this.fresh(f.name)) return false;
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#catalogLoop?.stop();
    this.#catalogLoop = undefined;
    this.#aggregate?.stop();
    this.#aggregate = undefined;
    for (const f of this.#followed.values()) f.loop?.stop();
    this.#followed.clear();
  }

  // --- What is followed, and how ---

  #desired(): Set<string> {
    const names = new Set(this.#named.keys());
    if (this.#all > 0 && this.#catalog) for (const name of this.#catalog.keys()) if (name !== CONSUL_SERVICE) names.add(name);
    return names;
  }

  #reconcile(): void {
    if (this.#closed) return;
    const desired = this.#desired();
    const perServiceSlots = desired.size + (this.#all > 0 ? 1 : 0);
    const cap = this.#ctx.reader.settings.watchConnections;
    // Hysteresis: a watch set hovering at the cap must not flip modes (and re-read everything) each time.
    if (this.#mode === 'per-service' && perServiceSlots > cap) this.#mode = 'aggregate';
    else if (this.#mode === 'aggregate' && perServiceSlots <= Math.floor(cap / 2)) this.#mode = 'per-service';

    const needCatalog = this.#all > 0 || (this.#mode === 'aggregate' && desired.size > 0);
    if (needCatalog && !this.#catalogLoop) this.#startCatalog();
    if (!needCatalog && this.#catalogLoop) {
      this.#catalogLoop.stop();
      this.#answered('catalog');
      this.#catalogLoop = undefined;
      this.#catalog = undefined;
      this.#catalogFresh = false;
    }

    for (const [name, f] of [...this.#followed]) {
      if (desired.has(name)) continue;
      f.loop?.stop();
      this.#answered(`health:${name}`);
      this.#followed.delete(name);
      // Nobody watches it any more, so nobody sees these deletes; the view must not keep a stale copy.
      this.#ctx.view.replaceName(name, []);
    }
    const added: string[] = [];
    for (const name of desired) {
      if (this.#followed.has(name)) continue;
      this.#followed.set(name, {
        name,
        synced: false,
        fresh: false,
        loop: undefined,
        consulNodes: new Set(),
        services: [],
        instances: undefined,
      });
      added.push(name);
    }

    if (this.#mode === 'per-service') {
      if (this.#aggregate) {
        this.#aggregate.stop();
        this.#answered('aggregate');
        this.#aggregate = undefined;
      }
      for (const f of this.#followed.values()) f.loop ??= this.#startLoop(f);
    } else {
      for (const f of this.#followed.values()) {
        f.loop?.stop();
        f.loop = undefined;
        this.#answered(`health:${f.name}`);
      }
      if (desired.size === 0) {
        this.#aggregate?.stop();
        this.#answered('aggregate');
        this.#aggregate = undefined;
      } else if (!this.#aggregate) {
        this.#aggregate = this.#startAggregate();
        if (this.#catalog) this.#aggregate.onCatalog(this.#catalog, 0);
      } else for (const name of added) this.#aggregate.follow(name);
    }
    this.#settle();
  }

  #startLoop(f: Followed): BlockingQuery<DecodedHealth> {
    const { reader } = this.#ctx;
    const wait = reader.settings.wait;
    return new BlockingQuery<DecodedHealth>({
      label: f.name,
      wait,
      fetch: async (index, signal) => {
        const answer = await reader.health(f.name, { index, wait, signal, lane: 'watch' }, f.instances);
        return { data: answer.data, index: answer.index };
      },
      onData: (data) => this.#apply(f, data),
      onError: (error, attempt) => {
        f.fresh = false;
        this.#failed(error, attempt, `watching ${JSON.stringify(f.name)}`, f.name, `health:${f.name}`);
      },
    }).start();
  }

  #startCatalog(): void {
    const { reader } = this.#ctx;
    const wait = reader.settings.wait;
    this.#catalogLoop = new BlockingQuery<Map<string, readonly string[]>>({
      label: 'catalog',
      wait,
      fetch: async (index, signal) => {
        const answer = await reader.catalog({ index, wait, signal, lane: 'watch' });
        return { data: answer.data, index: answer.index };
      },
      onData: (data, index) => {
        const before = this.#catalog;
        this.#catalog = data;
        this.#catalogFresh = true;
        this.#answered('catalog');
        if (this.#all > 0 && !sameKeys(before, data)) this.#reconcile();
        this.#aggregate?.onCatalog(data, index);
        this.#settle();
        return before === undefined || !deepEqual([...before], [...data]);
      },
      onError: (error, attempt) => {
        this.#catalogFresh = false;
        this.#failed(error, attempt, 'watching the service catalog', undefined, 'catalog');
      },
    }).start();
  }

  #startAggregate(): AggregateFollower {
    const follower = new AggregateFollower({
      reader: this.#ctx.reader,
      followed: () => this.#followed.keys(),
      consulNodesOf: (name) => this.#followed.get(name)?.consulNodes,
      reread: async (name, signal) => {
        const answer = await this.#ctx.reader.health(name, { signal, lane: 'watch' }, this.#followed.get(name)?.instances);
        const f = this.#followed.get(name);
        if (f && this.#aggregate === follower) this.#apply(f, answer.data);
      },
      onReadError: (name, error) => {
        const f = this.#followed.get(name);
        if (f) f.fresh = false;
        this.#ctx.onBackendError(error, `reading ${JSON.stringify(name)} failed; retrying`);
      },
      onAnswer: () => this.#answered('aggregate'),
      onError: (error, attempt) => this.#failed(error, attempt, 'watching health changes', undefined, 'aggregate'),
    });
    follower.start();
    return follower;
  }

  /** Puts an answer in the view; false when it changed nothing. */
  #apply(f: Followed, data: DecodedHealth): boolean {
    if (this.#followed.get(f.name) !== f) return false;
    const changed = !f.synced || !deepEqual(f.services, data.services);
    if (changed) this.#ctx.view.replaceName(f.name, data.services);
    f.services = data.services;
    f.instances = data.instances;
    f.synced = true;
    f.fresh = true;
    if (f.loop) this.#answered(`health:${f.name}`);
    f.consulNodes = data.consulNodes;
    if (data.dropped > 0) this.#ctx.onDrop(`unreadable instances or tags of ${JSON.stringify(f.name)}`, data.dropped);
    this.#settle();
    return changed;
  }

  #failed(error: unknown, attempt: number, what: string, service: string | undefined, loop: string): void {
    this.#ctx.onBackendError(error, `${what} failed (attempt ${attempt}); retrying with backoff`);
    // A refused token or an untrusted certificate will not fix itself: end the watchers concerned
    // with the error instead of retrying forever in silence. That is an end, not blindness: the
    // registry's other watchers are not told anything.
    if (isFatal(error)) {
      this.#ctx.failWatchers(error as Error, service);
      return;
    }
    const reason =
      error instanceof RollcallError ? error : new RollcallError('UNAVAILABLE', `${what} failed: ${String(error)}`, { cause: error });
    const blind = this.#failing.size > 0;
    this.#failing.set(loop, reason);
    if (!blind) this.#ctx.onBlind(reason);
  }

  /** A loop answered (or ended): once none is failing, watchers see Consul again. */
  #answered(loop: string): void {
    if (!this.#failing.delete(loop) || this.#failing.size > 0) return;
    this.#ctx.onBlind(undefined);
  }

  #settle(): void {
    for (const w of [...this.#waiters]) {
      if (!this.#isReady(w.service)) continue;
      this.#waiters.delete(w);
      w.resolve();
    }
  }

  #isReady(service: string | undefined): boolean {
    if (service !== undefined) return this.#followed.get(service)?.synced === true;
    if (this.#catalog === undefined) return false;
    for (const name of this.#desired()) if (this.#followed.get(name)?.synced !== true) return false;
    return true;
  }
}

function sameKeys(a: Map<string, unknown> | undefined, b: Map<string, unknown>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const key of b.keys()) if (!a.has(key)) return false;
  return true;
}
