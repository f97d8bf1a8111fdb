/**
 * Lifeguard's local health score (memberlist awareness.go): a node that misses nacks or must refute
 * suspicions of itself is probably the slow one, so it stretches its own probe timing instead of
 * declaring healthy peers dead.
 * @module
 */

export class Awareness {
  readonly #max: number;
  #score = 0;

  /** @param max the multiplier cap: the score stays in `0 .. max - 1`. */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`awareness max must be an integer >= 1, got ${max}`);
    this.#max = max;
  }

  /** 0 is healthy; each step adds one probe interval to our timing. */
  get score(): number {
    return this.#score;
  }

  /** Moves the score by `delta`, clamped to `0 .. max - 1`. Returns whether it changed. */
  applyDelta(delta: number): boolean {
    const before = this.#score;
    this.#score = Math.min(this.#max - 1, Math.max(0, before + delta));
    return this.#score !== before;
  }

  /** `timeout × (score + 1)`. */
  scaleTimeout(timeout: number): number {
    return timeout * (this.#score + 1);
  }
}
