/**
 * Waiting with a deadline and an AbortSignal, the one way every adapter bounds a call.
 * @module
 */
import { abortError, RollcallError } from './errors.js';
import { type Clock, systemClock, type Timer } from './internal/clock.js';

export { delay } from './internal/delay.js';

export interface DeadlineOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds; undefined or Infinity for none. */
  timeout?: number | undefined;
  /** Names the operation in the TIMEOUT message. */
  what: string;
  adapter?: string;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * Runs `work` with a signal that fires on the caller's abort or at the deadline. A deadline
 * rejects with `TIMEOUT` (retryable); the caller's abort rejects with an `AbortError`.
 */
export async function withDeadline<T>(options: DeadlineOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, timeout, what, adapter } = options;
  if (signal?.aborted) throw abortError(signal);
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: Timer | undefined;
  let timedOut = false;
  const limited = timeout !== undefined && Number.isFinite(timeout);
  try {
    return await new Promise<T>((resolve, reject) => {
      if (limited) {
        timer = (options.clock ?? systemClock).setTimeout(() => {
          timedOut = true;
          controller.abort();
          reject(new RollcallError('TIMEOUT', `${what} did not finish within ${timeout} ms`, { adapter }));
        }, timeout);
      }
      controller.signal.addEventListener('abort', () => {
        if (!timedOut) reject(abortError(signal));
      });
      work(controller.signal).then(resolve, reject);
    });
  } finally {
    timer?.cancel();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Validates a millisecond duration option. */
export function checkDuration(value: unknown, field: string, { min = 1, allowInfinity = false } = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!allowInfinity && !Number.isFinite(value))) {
    throw new RollcallError('INVALID_OPTIONS', `${field} must be a number of milliseconds >= ${min}, got ${String(value)}`);
  }
  return value;
}
