/**
 * The numbers SWIM derives from the cluster size, computed exactly as memberlist's util.go and
 * suspicion.go do (same truncations), so a mixed cluster agrees on when a suspect is declared dead.
 * @module
 */

/**
 * The shortest suspicion: `mult × max(1, log10(n)) × interval`. The node scale is truncated to
 * thousandths first, as Go multiplies an integer `time.Duration(nodeScale*1000)`.
 */
export function suspicionTimeout(suspicionMult: number, n: number, interval: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return (suspicionMult * Math.trunc(nodeScale * 1000) * interval) / 1000;
}

/** How many times a broadcast is sent: `mult × ceil(log10(n + 1))`, sized from the live cluster. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

/** Clusters up to this size push/pull at the configured interval; larger ones back off. */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/** Push/pull interval for `n` members: doubles with every doubling of the cluster past 32. */
export function pushPullScale(interval: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return interval;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * interval;
}

/**
 * Time left on a suspicion after `elapsed` ms with `n` of the `k` wanted confirmations: it shrinks
 * from `max` toward `min` as `log(n+1)/log(k+1)` (the base cancels out), floored to whole
 * milliseconds and never below `min`. Negative means the suspicion is already overdue.
 */
export function remainingSuspicionTime(n: number, k: number, elapsed: number, min: number, max: number): number {
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const raw = max - frac * (max - min);
  const timeout = Math.max(min, Math.floor(raw));
  return timeout - elapsed;
}
