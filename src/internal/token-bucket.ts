/**
 * The one token bucket: a burst of `capacity`, refilled at `perSecond`. The mdns registry keeps
 * one per source address against query floods; each Consul blocking loop one per request rate.
 * @module
 */
import { type Clock, systemClock } from './clock.js';
import { delay } from './delay.js';

export class TokenBucket {
  #tokens: number;
  #last: number;

  /** `now` is a clock's `now()` (monotonic ms); `take()` waits on `clock`. */
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    readonly now: () => number = systemClock.now,
    readonly clock: Clock = systemClock,
  ) {
    this.#tokens = capacity;
    this.#last = now();
  }

  /** Takes a token if one is there and returns 0, else returns the ms until one will be. */
  tryTake(): number {
    const t = this.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((t - this.#last) * this.perSecond) / 1_000);
    this.#last = t;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return ((1 - this.#tokens) * 1_000) / this.perSecond;
  }

  /** Waits for a token (rejects with an AbortError when `signal` fires first). */
  async take(signal?: AbortSignal): Promise<void> {
    for (let wait = this.tryTake(); wait > 0; wait = this.tryTake()) await delay(Math.ceil(wait), signal, this.clock);
  }
}
