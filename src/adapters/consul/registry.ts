/**
 * The Consul registry: AdapterBase with Consul behind it. Registrations go through the
 * {@link Registrar}, watches through {@link ConsulWatch}, lookups answer from the watch view when
 * it is current and from `/v1/health/service/:name` otherwise.
 * @module
 */
import { AdapterBase } from '../../adapter.js';
import { adapterLogger } from '../../diagnostics.js';
import { isRollcallError, RollcallError } from '../../errors.js';
import { lifetimeController } from '../../internal/abort.js';
import type { RegistrationOps } from '../../registration.js';
import type { Member, Registry, Service } from '../../registry.js';
import { withoutNodes } from '../../service.js';
import type { WatchInterest } from '../../watcher.js';
import { ConsulClient } from './client.js';
import type { ConsulOptions } from './index.js';
import { ConsulReader } from './queries.js';
import { AgentRecovery } from './recovery.js';
import { Registrar } from './register.js';
import { type ConsulSettings, resolveSettings } from './settings.js';
import { CONSUL_SERVICE, ConsulWatch } from './watch.js';

export class ConsulRegistry extends AdapterBase {
  readonly #settings: ConsulSettings;
  readonly #client: ConsulClient;
  readonly #reader: ConsulReader;
  readonly #registrar: Registrar;
  readonly #recovery: AgentRecovery;
  readonly #watch: ConsulWatch;
  /** Aborts registrations in flight when the registry closes. */
  readonly #stop = lifetimeController();
  /** Registrations in flight (settling, rollback included). */
  readonly #puts = new Set<Promise<void>>();

  constructor(options: ConsulOptions, env: NodeJS.ProcessEnv) {
    const settings = resolveSettings(options, env);
    super({
      kind: 'consul',
      options,
      logger: adapterLogger(options.logger, 'consul'),
      rejectLocalhost: true,
      capabilities: { members: true },
    });
    this.#settings = settings;
    this.#client = new ConsulClient(settings, {
      unreachable: (origin) => this.#recovery.suspect(origin, true),
      dropped: (origin) => this.#recovery.suspect(origin, false),
    });
    this.#reader = new ConsulReader(this.#client, settings);
    this.#registrar = new Registrar(this.#client, settings, (origin) => this.#renewOn(origin));
    this.#recovery = new AgentRecovery(this.#client, {
      holds: (origin) => [...this.handles].some((h) => this.#registrar.holds(h.service, origin)),
      back: (origin) => this.#renewOn(origin),
    });
    this.#watch = new ConsulWatch({
      reader: this.#reader,
      view: this.view,
      onBackendError: (error, message) => this.noteBackendError(error, message),
      onDrop: (reason, count) => {
        for (let i = 0; i < count; i++) this.noteDrop(reason, 'consul');
      },
      onBlind: (reason) => this.setBlind(reason),
      failWatchers: (error, service) => this.failWatchers(error, service),
    });
  }

  protected override interest(service: string | undefined): WatchInterest {
    return this.#watch.interest(service);
  }

  /** Heartbeats at once every registration homed on `origin` (the agent showed it lost its state). */
  #renewOn(origin: string): void {
    for (const handle of this.handles) if (this.#registrar.holds(handle.service, origin)) handle.renewNow();
  }

  protected put(service: Service, ttl: number, signal: AbortSignal | undefined): Promise<RegistrationOps> {
    const stop = this.#stop.signal;
    const task = this.#registrar.put(service, ttl, signal ? AbortSignal.any([signal, stop]) : stop).then(async (ops) => {
      // Registered while the registry closed: take it back before the client goes.
      if (this.closed) {
        await ops.remove(service).catch(() => {});
        throw this.#closedError(`register ${JSON.stringify(service.name)}`);
      }
      return ops;
    });
    // close() waits for this registration (and its rollback) before closing the client.
    const settled = task.then(
      () => {},
      () => {},
    );
    this.#puts.add(settled);
    void settled.finally(() => this.#puts.delete(settled));
    // The caller hears CLOSED as soon as close() stops the registration, not after its rollback.
    let onStop = () => {};
    const stopped = new Promise<never>((_resolve, reject) => {
      onStop = () => reject(this.#closedError(`register ${JSON.stringify(service.name)}`));
      stop.addEventListener('abort', onStop, { once: true });
    });
    return Promise.race([this.#whileOpen(`register ${JSON.stringify(service.name)}`, task, signal), stopped]).finally(() =>
      stop.removeEventListener('abort', onStop),
    );
  }

  protected remove(service: Service): Promise<void> {
    return this.#registrar.remove(service);
  }

  protected override peek(name: string): readonly Service[] | undefined {
    return this.#watch.fresh(name) ? this.view.get(name) : undefined;
  }

  protected async lookup(name: string, signal: AbortSignal): Promise<readonly Service[]> {
    const { data } = await this.#whileOpen(`getService(${JSON.stringify(name)})`, this.#reader.health(name, { signal }), signal);
    if (data.dropped > 0) this.noteDrop(`unreadable instances or tags of ${JSON.stringify(name)}`, 'consul');
    return Object.freeze(data.services);
  }

  protected async summaries(signal: AbortSignal): Promise<Service[]> {
    if (this.#watch.complete()) return this.view.list();
    const { data: catalog } = await this.#whileOpen('listServices()', this.#reader.catalog({ signal }), signal);
    const names = [...catalog.keys()].filter((n) => n !== CONSUL_SERVICE);
    const out: Service[] = [];
    // A catalog name may have no passing instance: only a health read tells, one name at a time,
    // as many at once as the request lane has connections (plus one queued behind each).
    await eachLimited(names, this.#settings.requestConnections * 2, async (name) => {
      const versions = this.#watch.fresh(name) ? this.view.get(name) : await this.lookup(name, signal);
      for (const s of versions) out.push(withoutNodes(s));
    });
    return out;
  }

  async members(): Promise<Member[]> {
    this.assertOpen();
    return this.#whileOpen('members()', this.#reader.members(undefined), undefined);
  }

  protected async shutdown(): Promise<void> {
    this.#recovery.close();
    this.#watch.close();
    this.#stop.abort();
    while (this.#puts.size > 0) await Promise.all(this.#puts);
    await this.#client.close();
  }

  /**
   * A call that close() cut short rejects CLOSED: `UNAVAILABLE` would invite a retry on a
   * registry that is gone. The caller's own abort stays an AbortError.
   */
  async #whileOpen<T>(what: string, call: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (this.closed && !signal?.aborted && !isRollcallError(error, 'CLOSED')) throw this.#closedError(what, error);
      throw error;
    }
  }

  #closedError(what: string, cause?: unknown): RollcallError {
    return new RollcallError('CLOSED', `${what}: the registry was closed`, { adapter: 'consul', ...(cause ? { cause } : {}) });
  }

  protected override extraStats(): Record<string, number | string> {
    return {
      agent: this.#client.label(this.#client.current),
      watchMode: this.#watch.mode,
      blockingQueries: this.#watch.queries,
      followedServices: this.#watch.followedCount,
      requestsSent: this.#client.sent.request,
      watchRequestsSent: this.#client.sent.watch,
    };
  }

  /** @internal Ends the registry as a crash would: no goodbyes, no more heartbeats. */
  crash(): void {
    this.crashNow();
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Test hook: ends `registry` as a SIGKILL would, minus the process (registrations stop
 * heartbeating without a goodbye; Consul's TTL takes them out of the passing view).
 * @internal
 */
export function crashConsulRegistry(registry: Registry): void {
  if (!(registry instanceof ConsulRegistry)) throw new RollcallError('UNSUPPORTED', 'crashConsulRegistry() takes a consul registry');
  registry.crash();
}
