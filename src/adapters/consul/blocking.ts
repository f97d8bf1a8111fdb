/**
 * One blocking-query loop, and the rules that keep it honest:
 * - index: 0 asks for an immediate answer: the first query sends it, and so does the first one
 *   after the index went backwards (a new cluster, a restored snapshot) or after a failure; any
 *   other query sends at least 1. Only 200 answers move it (a 500 during a leader loss came back
 *   with index 1).
 * - why after a failure: it may be an agent restarting without its data. Its indexes start over
 *   below ours, and Consul blocks a query until the index passes the one sent, so our old index
 *   would wait out the whole `wait` (5 min by default) while watchers showed what the dead agent
 *   held; the backwards index would only come with that answer. (Measured: a restarted dev agent
 *   given the same registrations reaches the very same indexes.)
 * - a return is no proof of change: consumers diff what they get.
 * - errors back off exponentially with jitter; answers that return at once without a new index
 *   back off the same way; and a token bucket caps every loop's request rate, so no server bug,
 *   index mix-up or error storm can make a loop spin (silas/node-consul#24 did, 2 ms apart).
 * @module
 */

import { lifetimeController } from '../../internal/abort.js';
import { type BackoffPolicy, backoffDelay as retryDelay } from '../../internal/backoff.js';
import { type Clock, systemClock } from '../../internal/clock.js';
import { delay } from '../../internal/delay.js';
import { TokenBucket } from '../../internal/token-bucket.js';

/** The index to send next, given the one sent and the one a 200 answer returned. */
export function nextIndex(sent: number, returned: number): number {
  if (returned < sent) return 0;
  return Math.max(1, returned);
}

export type { BackoffPolicy };
export { TokenBucket };

export const defaultBackoff: BackoffPolicy = Object.freeze({ base: 100, max: 15_000 });

/** Delay before retry `attempt` (1-based: a loop counts its failures from one). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = defaultBackoff, random: () => number = Math.random): number {
  return retryDelay(attempt - 1, policy, random);
}

/**
 * Every request of a loop takes a token from a generous bucket (bursts of 200, 1,000 a second):
 * a last-resort ceiling no server behaviour can push a loop past. It has to be generous: a query on
 * an empty service legitimately wakes on every write in the datacenter, and a token it waits for
 * is latency added to the next real change.
 */
const REQUESTS = { capacity: 200, perSecond: 1_000 };
/**
 * A run of answers that changed nothing is held to 20 a second once it is longer than
 * {@link UNCHANGED_STREAK}. A query on a service without instances wakes on every catalog write
 * in the datacenter (Consul answers it with the datacenter-wide index) with the same empty
 * answer: in a busy cluster, a spin. Short runs are normal (every write elsewhere wakes an empty
 * service's query once) and are never delayed, since a delay there delays the next real change.
 */
const UNCHANGED = { capacity: 1, perSecond: 20 };
const UNCHANGED_STREAK = 10;

export interface BlockingQueryConfig<T> {
  /** For logs. */
  label: string;
  /** Milliseconds each query may block. */
  wait: number;
  /** Runs one query; `index` 0 asks for an immediate answer. Returns data and the 200 answer's index. */
  fetch(index: number, signal: AbortSignal): Promise<{ data: T; index: number }>;
  /** Every 200 answer; returns false when it changed nothing (the unchanged-answer limit applies). */
  onData(data: T, index: number): boolean;
  /** Every failure; `attempt` counts consecutive failures. */
  onError(error: unknown, attempt: number): void;
  backoff?: BackoffPolicy;
  /** @default systemClock */
  clock?: Clock;
}

export class BlockingQuery<T> {
  readonly #config: BlockingQueryConfig<T>;
  readonly #controller = lifetimeController();
  readonly #requests = new TokenBucket(REQUESTS.capacity, REQUESTS.perSecond);
  readonly #unchanged = new TokenBucket(UNCHANGED.capacity, UNCHANGED.perSecond);
  #index = 0;
  #failures = 0;
  #running: Promise<void> | undefined;

  constructor(config: BlockingQueryConfig<T>) {
    this.#config = config;
  }

  get index(): number {
    return this.#index;
  }

  /** Consecutive failures; 0 while the loop is healthy. */
  get failures(): number {
    return this.#failures;
  }

  get stopped(): boolean {
    return this.#controller.signal.aborted;
  }

  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Aborts the request in flight and ends the loop. */
  stop(): void {
    this.#controller.abort();
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    const { wait, backoff = defaultBackoff, clock = systemClock } = this.#config;
    let idle = 0;
    let unchanged = 0;
    while (!signal.aborted) {
      try {
        await this.#requests.take(signal);
        const sent = this.#index;
        const started = clock.now();
        const { data, index } = await this.#config.fetch(sent, signal);
        if (signal.aborted) return;
        this.#failures = 0;
        this.#index = nextIndex(sent, index);
        const changed = this.#config.onData(data, index);
        // Same index, returned long before the wait was up: nothing happened, yet the server woke
        // us. Repeated, that is a spin; back off as on errors until the index moves again.
        idle = sent > 0 && index === sent && clock.now() - started < wait / 2 ? idle + 1 : 0;
        unchanged = changed ? 0 : unchanged + 1;
        if (idle > 0) await delay(backoffDelay(idle, backoff), signal, clock);
        else if (unchanged > UNCHANGED_STREAK) await this.#unchanged.take(signal);
      } catch (error) {
        if (signal.aborted) return;
        this.#failures++;
        this.#index = 0;
        this.#config.onError(error, this.#failures);
        await delay(backoffDelay(this.#failures, backoff), signal, clock).catch(() => {});
      }
    }
  }

  /** Resolves when the loop has ended (after stop()). */
  async done(): Promise<void> {
    await this.#running?.catch(() => {});
  }
}
