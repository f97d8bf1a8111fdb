/**
 * One suspicion timer (memberlist suspicion.go, Lifeguard): it starts at `max` and is driven
 * toward `min` by independent confirmations, so a node many peers suspect is declared dead sooner
 * while a lone accuser (possibly the slow one) waits the full time.
 * @module
 */
import type { Clock, Timer } from '../../../internal/clock.js';
import { remainingSuspicionTime } from './timing.js';

export class Suspicion {
  readonly #clock: Clock;
  readonly #k: number;
  readonly #min: number;
  readonly #max: number;
  readonly #start: number;
  readonly #onTimeout: (confirmations: number) => void;
  /** Who has accused already, the first accuser included: our own gossip may come back to us. */
  readonly #accusers = new Set<string>();
  #n = 0;
  #timer: Timer | undefined;

  /**
   * @param from the first accuser, not counted as a confirmation.
   * @param k confirmations that bring the timeout down to `min`.
   * @param onTimeout called once, with the number of confirmations seen.
   */
  constructor(clock: Clock, from: string, k: number, min: number, max: number, onTimeout: (confirmations: number) => void) {
    this.#clock = clock;
    this.#k = k;
    this.#min = min;
    this.#max = max;
    this.#onTimeout = onTimeout;
    this.#accusers.add(from);
    this.#start = clock.now();
    // With no confirmations to wait for, the minimum applies from the start.
    this.#arm(k < 1 ? min : max);
  }

  /** Independent confirmations so far. */
  get confirmations(): number {
    return this.#n;
  }

  /** When the timer fires as things stand, on the clock's scale. */
  get deadline(): number {
    if (this.#k < 1) return this.#start + this.#min;
    return this.#start + remainingSuspicionTime(this.#n, this.#k, 0, this.#min, this.#max);
  }

  /**
   * Another peer suspects the same node. Returns true when this was new information (worth
   * re-gossiping), false for a repeat or once `k` confirmations were reached.
   */
  confirm(from: string): boolean {
    if (this.#n >= this.#k || this.#timer === undefined) return false;
    if (this.#accusers.has(from)) return false;
    this.#accusers.add(from);
    this.#n++;
    const remaining = remainingSuspicionTime(this.#n, this.#k, this.#clock.now() - this.#start, this.#min, this.#max);
    this.#timer.cancel();
    this.#arm(remaining);
    return true;
  }

  /** The suspect refuted or was declared dead some other way. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#onTimeout(this.#n);
      },
      Math.max(0, ms),
    );
  }
}
