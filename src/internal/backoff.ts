/**
 * The one retry backoff: exponential from `base`, capped at `max`, with "equal jitter" (half
 * fixed, half random), so loops that failed together do not retry together, yet none retries at once.
 * @module
 */

export interface BackoffPolicy {
  /** First delay, ms. */
  base: number;
  /** Largest delay, ms. */
  max: number;
}

/** Delay before retry number `attempt` (0-based: the first retry is 0). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.max, policy.base * 2 ** Math.min(40, Math.max(0, attempt)));
  return ceiling / 2 + (ceiling / 2) * random();
}
