/**
 * Waiting on a {@link Clock}: a promise that resolves after `ms`, or rejects with an `AbortError`
 * when its signal fires first. The timer never holds the process open.
 * @module
 */
import { abortError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';

export function delay(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(abortError(signal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
