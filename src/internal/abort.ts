/**
 * Abort helpers: racing a promise against an AbortSignal without leaking the listener.
 * @module
 */
import { setMaxListeners } from 'node:events';
import { abortError } from '../errors.js';

/** `promise`, or an `AbortError` as soon as `signal` fires (the work itself is not cancelled). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * An AbortController for a lifetime (a registry's, a watch's) that every call made in it listens
 * to, one listener per call in flight. Node warns past 10 listeners on one signal, a leak heuristic
 * that misfires here: 100 concurrent registrations are 100 honest listeners, each removed when its
 * call settles.
 */
export function lifetimeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
