/**
 * In-process registry. Handles created with the same `name` share one store, so several
 * "processes" of a test or a single-process app can find each other. Unlike Go Micro's memory
 * registry, an expired lease emits `delete` to watchers (Go's prunes silently).
 * @module rollcall/memory
 */
import { LocalViewAdapter } from '../adapter.js';
import { adapterLogger } from '../diagnostics.js';
import { RollcallError } from '../errors.js';
import { systemClock, type Timer } from '../internal/clock.js';
import { joinKey, splitKey } from '../internal/keys.js';
import type { RegistrationOps } from '../registration.js';
import type { CommonOptions, Registry, Service } from '../registry.js';
import { ServiceView } from '../view.js';

export interface MemoryOptions extends CommonOptions {
  /** Only for `createRegistry({ kind: 'memory', ... })`; `createMemoryRegistry` ignores it. */
  kind?: 'memory';
  /**
   * Handles created with the same name share one store (`memory://name`). Without a name each
   * registry has a private store.
   */
  name?: string;
}

/** A lease: who keeps a node alive and until when (monotonic ms). */
interface Lease {
  expiresAt: number;
  owner: object;
}

/** The shared state behind every handle of one name. */
class MemoryStore {
  readonly view = new ServiceView({ adapter: 'memory' });
  readonly #leases = new Map<string, Lease>();
  #timer: Timer | undefined;
  #nextSweep = Number.POSITIVE_INFINITY;
  users = 0;

  put(service: Service, ttl: number, owner: object): void {
    const expiresAt = systemClock.now() + ttl;
    for (const node of service.nodes) {
      this.#leases.set(leaseKey(service, node.id), { expiresAt, owner });
      this.view.putNode(service, node);
    }
    this.#scheduleSweep(expiresAt);
  }

  /** Extends the owner's leases; false when one was lost (expired while the owner stalled). */
  renew(service: Service, ttl: number, owner: object): boolean {
    const expiresAt = systemClock.now() + ttl;
    let present = true;
    for (const node of service.nodes) {
      const lease = this.#leases.get(leaseKey(service, node.id));
      if (!lease) present = false;
      // Another handle re-registered this node: it keeps it alive now.
      else if (lease.owner === owner) lease.expiresAt = expiresAt;
    }
    return present;
  }

  /** Removes nodes; with an owner, only those it still owns (a takeover must not be undone). */
  remove(service: Service, owner?: object): void {
    for (const node of service.nodes) {
      const key = leaseKey(service, node.id);
      const lease = this.#leases.get(key);
      if (owner && lease && lease.owner !== owner) continue;
      this.#leases.delete(key);
      this.view.removeNode(service.name, service.version, node.id);
    }
  }

  get idle(): boolean {
    return this.users === 0 && this.#leases.size === 0;
  }

  #scheduleSweep(at: number): void {
    if (at >= this.#nextSweep) return;
    this.#timer?.cancel();
    this.#nextSweep = at;
    this.#timer = systemClock.setTimeout(() => this.#sweep(), at - systemClock.now() + 1);
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#nextSweep = Number.POSITIVE_INFINITY;
    const now = systemClock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [key, lease] of this.#leases) {
      if (lease.expiresAt <= now) {
        this.#leases.delete(key);
        const [name = '', version = '', id = ''] = splitKey(key);
        this.view.removeNode(name, version, id);
      } else if (lease.expiresAt < next) next = lease.expiresAt;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#scheduleSweep(next);
    if (this.idle) releaseStore(this);
  }
}

function leaseKey(service: Service, nodeId: string): string {
  return joinKey(service.name, service.version, nodeId);
}

const namedStores = new Map<string, MemoryStore>();

function acquireStore(name: string | undefined): MemoryStore {
  let store = name === undefined ? undefined : namedStores.get(name);
  if (!store) {
    store = new MemoryStore();
    if (name !== undefined) namedStores.set(name, store);
  }
  store.users++;
  return store;
}

function releaseStore(store: MemoryStore): void {
  if (!store.idle) return;
  for (const [name, s] of namedStores) if (s === store) namedStores.delete(name);
}

class MemoryRegistry extends LocalViewAdapter {
  readonly #store: MemoryStore;

  constructor(options: MemoryOptions) {
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new RollcallError('INVALID_OPTIONS', `memory: name must be a non-empty string, got ${JSON.stringify(options.name)}`);
    }
    const store = acquireStore(options.name);
    super({ kind: 'memory', options, logger: adapterLogger(options.logger, 'memory'), view: store.view });
    this.#store = store;
  }

  protected async put(service: Service, ttl: number): Promise<RegistrationOps> {
    const owner = {};
    const store = this.#store;
    store.put(service, ttl, owner);
    return {
      renew: async (current) => store.renew(current, ttl, owner),
      restore: async (current) => store.put(current, ttl, owner),
      remove: async (current) => store.remove(current, owner),
    };
  }

  protected async remove(service: Service): Promise<void> {
    this.#store.remove(service);
  }

  protected async shutdown(): Promise<void> {
    this.#store.users--;
    releaseStore(this.#store);
  }

  /** @internal */
  crash(): void {
    this.crashNow();
  }
}

/** Creates an in-process registry (`memory://name` shares a named store). */
export function createMemoryRegistry(options: MemoryOptions = {}): Registry {
  return new MemoryRegistry(options);
}

/**
 * Simulates a crash of the process that owns `registry`: its registrations stop renewing without a
 * goodbye (watchers elsewhere see them expire after their TTL), its watchers end, and the registry
 * is closed. For testing failover logic.
 */
export function crash(registry: Registry): void {
  if (!(registry instanceof MemoryRegistry)) {
    throw new RollcallError('UNSUPPORTED', 'crash() takes a registry created by the memory adapter');
  }
  registry.crash();
}

export default createMemoryRegistry;
