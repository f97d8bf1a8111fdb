/**
 * A registry's own calls to one agent, queued for its request connections. The request timeout is
 * about the agent: how long it may take to answer a call. Time a call spends queued behind the
 * registry's own earlier calls is not the agent's doing, so it does not count, as long as the
 * agent keeps answering those calls.
 *
 * Why: a Consul agent handles registrations and heartbeats one at a time (each writes the catalog
 * and its own data directory before it answers), so a burst of calls drains at the agent's pace.
 * Measured on a loaded 2-core machine: 100 registrations at once, every call answered within
 * 0.23 s, yet the last of the burst waited 5 s for a connection. Counted against the 10 s
 * timeout, a burst during the scale test's changes ran out of time, and the agent was reported
 * unreachable while it answered every call it got.
 *
 * A queued call still gives up when the agent stalls: when the agent answered none of this gate's
 * calls during a whole `patience` of the call's wait.
 * @module
 */
import { abortError } from '../../errors.js';
import { systemClock, type Timer } from '../../internal/clock.js';

interface Waiter {
  readonly since: number;
  resolve(release: () => void): void;
  reject(error: unknown): void;
  cleanup(): void;
}

export class Gate {
  #free: number;
  readonly #queue: Waiter[] = [];
  #answeredAt = Number.NEGATIVE_INFINITY;

  constructor(
    slots: number,
    readonly patience: number,
  ) {
    this.#free = slots;
  }

  /** Calls waiting for a connection now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with the function that frees the slot, once one is free; rejects with `stalled()`
   * when the wait saw the agent answer nothing for a whole `patience`.
   */
  acquire(signal: AbortSignal | undefined, stalled: () => Error): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#free > 0 && this.#queue.length === 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      let timer: Timer | undefined;
      const leave = (error: unknown) => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        waiter.cleanup();
        reject(error);
      };
      const onAbort = () => leave(abortError(signal as AbortSignal));
      const check = () => {
        const quiet = systemClock.now() - Math.max(this.#answeredAt, waiter.since);
        if (quiet >= this.patience) leave(stalled());
        else arm(this.patience - quiet);
      };
      const arm = (ms: number) => {
        timer = systemClock.setTimeout(check, ms);
      };
      const waiter: Waiter = {
        since: systemClock.now(),
        resolve,
        reject,
        cleanup: () => {
          timer?.cancel();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      this.#queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      arm(this.patience);
    });
  }

  /** The agent answered one of this gate's calls: the queue is moving. */
  answered(): void {
    this.#answeredAt = systemClock.now();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (!next) {
        this.#free++;
        return;
      }
      next.cleanup();
      next.resolve(this.#releaser());
    };
  }
}
