/**
 * The Registration handle shared by every adapter: keeps a registration alive by renewing it every
 * `ttl / 3`, notices when the backend lost it (agent restart, expiry after a long stall) and puts it
 * back, telling the application through `lost` / `restored`.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { RollcallError } from './errors.js';
import type { Clock, Timer } from './internal/clock.js';
import type { Logger, Registration, RegistrationEvents, Service } from './registry.js';
import { withNodes } from './service.js';

/** What an adapter does for one registration. */
export interface RegistrationOps {
  /**
   * Heartbeat. Resolves `true` while the backend still holds the registration, `false` when it lost
   * it (then {@link restore} runs). Rejects on transport errors (retried at the next beat).
   * Omit for adapters whose backend needs no heartbeat.
   */
  renew?(service: Service): Promise<boolean>;
  /** Puts a lost registration back (usually the same as the initial register). */
  restore?(service: Service): Promise<void>;
  /** Goodbye: removes these nodes from the backend. Runs once, on `deregister()` or `registry.close()`. */
  remove(service: Service): Promise<void>;
  /**
   * Releases whatever the adapter keeps for this registration. Runs once when the handle ends: after
   * {@link remove} has settled on a goodbye, alone (no goodbye) on a crash or when another
   * registration took every node over.
   */
  stop?(service: Service): void;
  /** Receives the handle once it exists, for adapters that emit its events (mdns: `renamed`). */
  attach?(registration: RegistrationHandle): void;
}

export interface RegistrationContext {
  adapter: string;
  logger: Logger;
  /** Counts background failures in the registry's stats. */
  onBackendError(error: unknown): void;
  /** The handle ended (deregistered, dropped or crashed): forget it. */
  onEnd(handle: RegistrationHandle): void;
  /** The goodbye for `service` went through (`rollcall:deregister`). */
  onRemoved(service: Service): void;
  /** Holds the process while the registration lives; returns the release. */
  keepAlive(): () => void;
  clock: Clock;
}

/** A renewal that fails is retried sooner than the next beat, but never in a tight loop. */
const MIN_RETRY_MS = 250;

export class RegistrationHandle extends EventEmitter<RegistrationEvents> implements Registration {
  #service: Service;
  readonly ttl: number;
  readonly #ops: RegistrationOps;
  readonly #ctx: RegistrationContext;
  #timer: Timer | undefined;
  readonly #letGo: () => void;
  #ended = false;
  #lost = false;
  #beating = false;
  #removal: Promise<void> | undefined;

  constructor(service: Service, ttl: number, ops: RegistrationOps, ctx: RegistrationContext) {
    super();
    this.#service = service;
    this.ttl = ttl;
    this.#ops = ops;
    this.#ctx = ctx;
    this.#letGo = ctx.keepAlive();
    if (ops.renew) this.#schedule(this.interval);
    ops.attach?.(this);
  }

  get service(): Service {
    return this.#service;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Heartbeat period: a third of the TTL, so two beats may be lost before the node expires. */
  get interval(): number {
    return Math.max(1, Math.floor(this.ttl / 3));
  }

  ownsNode(id: string): boolean {
    return this.#service.nodes.some((n) => n.id === id);
  }

  deregister(): Promise<void> {
    if (!this.#removal) {
      const service = this.#service;
      this.#end(false);
      // Goodbye order: the goodbye still finds what the adapter published, then the adapter lets go.
      this.#removal = settled(() => this.#ops.remove(service)).finally(() => this.#ops.stop?.(service));
      this.#removal.then(() => this.#ctx.onRemoved(service), noop);
    }
    return this.#removal;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.deregister();
  }

  /**
   * Heartbeats now instead of at the next beat: the adapter saw a sign that the backend lost its
   * state (an agent came back after an outage), and waiting would leave the registration missing
   * for up to an interval. A beat already running is left to finish.
   */
  renewNow(): void {
    if (this.#ended || this.#beating || !this.#ops.renew) return;
    this.#timer?.cancel();
    void this.#beat();
  }

  /**
   * Stops keeping these nodes alive without a goodbye: another registration took them over, or
   * they were deregistered explicitly. The handle ends when no node is left.
   */
  dropNodes(ids: ReadonlySet<string>): { stop(): void } | undefined {
    if (this.#ended) return undefined;
    const kept = this.#service.nodes.filter((n) => !ids.has(n.id));
    if (kept.length === this.#service.nodes.length) return undefined;
    if (kept.length === 0) {
      const service = this.#service;
      this.#end(false);
      this.#removal = Promise.resolve();
      // The caller runs the adapter's stop when it is done: at once for a takeover, after the
      // goodbye for an explicit deregister (which must still find what the adapter published).
      return { stop: () => this.#ops.stop?.(service) };
    }
    this.#service = withNodes(this.#service, kept);
    return undefined;
  }

  /** Ends the handle as a crash would: no goodbye, no more heartbeats. */
  crash(): void {
    if (this.#ended) return;
    this.#end();
    this.#removal = Promise.resolve();
  }

  /** Ends the handle; `stop` is false when a goodbye runs first and stops the adapter's part after it. */
  #end(stop = true): void {
    this.#ended = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (stop) this.#ops.stop?.(this.#service);
    this.#ctx.onEnd(this);
    this.#letGo();
  }

  #schedule(ms: number): void {
    this.#timer = this.#ctx.clock.setTimeout(() => void this.#beat(), ms);
  }

  async #beat(): Promise<void> {
    this.#beating = true;
    try {
      await this.#renewOnce();
    } finally {
      this.#beating = false;
    }
  }

  async #renewOnce(): Promise<void> {
    const service = this.#service;
    let next = this.interval;
    try {
      const present = await this.#ops.renew?.(service);
      if (this.#ended) return;
      if (present === false) {
        this.#markLost(
          new RollcallError('UNAVAILABLE', `registration of ${describe(service)} was lost by the backend; registering again`, {
            adapter: this.#ctx.adapter,
          }),
        );
        await this.#ops.restore?.(this.#service);
        if (this.#ended) return;
      }
      if (this.#lost) {
        this.#lost = false;
        this.#ctx.logger.info({ service: service.name }, 'registration restored');
        this.emit('restored');
      }
    } catch (error) {
      if (this.#ended) return;
      this.#ctx.onBackendError(error);
      this.#markLost(
        error instanceof RollcallError
          ? error
          : new RollcallError('UNAVAILABLE', `renewing ${describe(service)} failed`, { adapter: this.#ctx.adapter, cause: error }),
      );
      next = Math.max(MIN_RETRY_MS, Math.floor(this.interval / 2));
    }
    if (!this.#ended) this.#schedule(next);
  }

  #markLost(error: RollcallError): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#ctx.logger.warn({ service: this.#service.name, code: error.code }, error.message);
    this.emit('lost', error);
  }
}

const noop = () => {};

/** Runs `fn`, turning a synchronous throw into a rejection. */
function settled(fn: () => Promise<void>): Promise<void> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

function describe(service: Service): string {
  return `${service.name}${service.version ? `@${service.version}` : ''} (${service.nodes.map((n) => n.id).join(', ')})`;
}
