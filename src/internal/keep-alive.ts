/**
 * What keeps a process up: a live registration or a watch being iterated holds it, as a listening
 * server does, so a script that only registers (a sidecar announcing a database) or only watches
 * does not exit under it. Every other timer of the library is unref'd; this is the one ref'd one.
 * @module
 */
import { type Clock, MAX_TIMER_DELAY, systemClock, type Timer } from './clock.js';

/** Counts holders; while there is one, a ref'd timer keeps the event loop alive. */
export class KeepAlive {
  readonly #clock: Clock;
  readonly #enabled: boolean;
  #holders = 0;
  #timer: Timer | undefined;

  /** `enabled: false` is the opt-out: holders are counted but never hold the process. */
  constructor(enabled = true, clock: Clock = systemClock) {
    this.#enabled = enabled;
    this.#clock = clock;
  }

  /** Holders right now (for stats and tests). */
  get holders(): number {
    return this.#holders;
  }

  /** Holds the process until the returned function is called (calling it twice is harmless). */
  hold(): () => void {
    this.#holders++;
    if (this.#holders === 1 && this.#enabled) this.#arm();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holders === 0) {
        this.#timer?.cancel();
        this.#timer = undefined;
      }
    };
  }

  /** A timer that only exists to be pending; it re-arms itself in the unlikely case it fires (24.8 days). */
  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => this.#arm(), MAX_TIMER_DELAY, { ref: true });
  }
}
