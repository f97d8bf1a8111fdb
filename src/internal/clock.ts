/**
 * The one clock and timer seam. Protocol code takes a {@link Clock} instead of calling
 * `setTimeout` or `performance.now()` itself, so the same code runs on real time in production
 * and on a simulated clock in deterministic tests (as memberlist's tests swap in a mock transport).
 * @module
 */

/**
 * The longest delay a Node timer honours: anything above 2^31-1 ms is replaced by 1 ms (with a
 * `TimeoutOverflowWarning`), so an unclamped delay computed from untrusted input (a DNS TTL of
 * 0xffffffff s) would fire at once, again and again.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A delay a timer can honour: finite, >= 0, at most {@link MAX_TIMER_DELAY}; NaN counts as 0. */
export function clampDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_DELAY);
}

/** A scheduled callback. `ref()` / `unref()` decide whether it keeps the process alive (real clock only). */
export interface Timer {
  /** Cancels the callback; safe to call twice or after it ran. */
  cancel(): void;
  /** Keeps the process alive until the callback runs (Node's default for a bare `setTimeout`). */
  ref(): this;
  /** Lets the process exit while this timer is pending. */
  unref(): this;
}

export interface TimerOptions {
  /**
   * Whether the pending timer keeps the process alive. Defaults to `false`: background work of the
   * library never holds a process open by itself; what a user holds (a live registration, a watch
   * being iterated) decides that explicitly.
   */
  ref?: boolean;
}

/** Monotonic time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time; only differences mean anything). */
  now(): number;
  /** Runs `fn` once after `ms` (clamped by {@link clampDelay}). */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): Timer;
  /**
   * Runs `fn` on the next turn, after the I/O already waiting (Node's `setImmediate`): work queued
   * by several datagrams of one poll is done once, together. Holds the process only until that turn.
   */
  immediate(fn: () => void): void;
}

/**
 * Runs `fn` every `ms` until the returned timer is cancelled. Re-armed after each run, so a slow
 * run delays the next instead of piling runs up.
 */
export function every(clock: Clock, ms: number, fn: () => void, options?: TimerOptions): Timer {
  let current: Timer;
  let cancelled = false;
  let ref = options?.ref === true;
  const arm = () => {
    current = clock.setTimeout(
      () => {
        if (cancelled) return;
        fn();
        if (!cancelled) arm();
      },
      ms,
      { ref },
    );
  };
  arm();
  const handle: Timer = {
    cancel: () => {
      cancelled = true;
      current.cancel();
    },
    ref: () => {
      ref = true;
      current.ref();
      return handle;
    },
    unref: () => {
      ref = false;
      current.unref();
      return handle;
    },
  };
  return handle;
}

/** A Node timer behind the {@link Timer} interface. */
class SystemTimer implements Timer {
  readonly #handle: NodeJS.Timeout;

  constructor(fn: () => void, ms: number, ref: boolean) {
    this.#handle = setTimeout(fn, clampDelay(ms));
    if (!ref) this.#handle.unref();
  }

  cancel(): void {
    clearTimeout(this.#handle);
  }

  ref(): this {
    this.#handle.ref();
    return this;
  }

  unref(): this {
    this.#handle.unref();
    return this;
  }
}

/**
 * Real time: `performance.now()` and Node timers, unref'd unless `{ ref: true }`. The only place in
 * src/ that calls them; everything else takes a {@link Clock} so tests can swap in a simulated one.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number, options?: TimerOptions): Timer => new SystemTimer(fn, ms, options?.ref === true),
  // Not unref'd: the loop would then block in poll until some other timer or I/O woke it, and the
  // work would wait for that instead of running on the next turn.
  immediate: (fn: () => void): void => {
    setImmediate(fn);
  },
});
