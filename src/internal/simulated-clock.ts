/**
 * A {@link Clock} that moves only when a test moves it, so protocol code (probes, timeouts,
 * retransmits) runs the same way on every run and a minute of protocol time costs microseconds.
 * @module
 */

import { type Clock, clampDelay, type Timer, type TimerOptions } from './clock.js';

interface Scheduled {
  readonly due: number;
  /** Creation order: timers due at the same instant run in the order they were set, as Node's do. */
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** How many timers one `runUntilIdle` may run before it decides something reschedules forever. */
const DEFAULT_IDLE_LIMIT = 100_000;

/** Lets every promise continuation queued so far run (macrotask boundary, no timer involved). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deterministic time for tests. `advance` runs due timers synchronously in time order; `runFor`
 * and `runUntilIdle` also let promise continuations run between timers, so async protocol code
 * sees the same interleaving it would on real time.
 */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  // A binary min-heap on (due, seq): thousands of pending timers stay cheap to schedule.
  readonly #heap: Scheduled[] = [];

  /** @param start the first reading of {@link now} (any value: only differences mean anything). */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number, _options?: TimerOptions): Timer {
    const entry: Scheduled = { due: this.#now + clampDelay(ms), seq: this.#seq++, fn, cancelled: false };
    this.#push(entry);
    const timer: Timer = {
      cancel: () => {
        entry.cancelled = true;
      },
      ref: () => timer,
      unref: () => timer,
    };
    return timer;
  }

  /** The next turn is the same instant: after everything already due now. */
  immediate(fn: () => void): void {
    this.setTimeout(fn, 0);
  }

  /** Timers scheduled and not yet run or cancelled. */
  get pending(): number {
    let count = 0;
    for (const entry of this.#heap) if (!entry.cancelled) count++;
    return count;
  }

  /** When the next live timer is due, or `undefined` when none is pending. */
  nextDue(): number | undefined {
    this.#dropCancelledHead();
    return this.#heap[0]?.due;
  }

  /**
   * Moves time forward by `ms`, running every timer due on the way at its own instant, in order
   * (a timer set by a callback runs too when it falls inside the window). Synchronous: promise
   * continuations run only after it returns; use {@link runFor} when they matter.
   */
  advance(ms: number): void {
    const target = this.#now + clampDelay(ms);
    for (let entry = this.#takeDue(target); entry; entry = this.#takeDue(target)) {
      this.#now = entry.due;
      entry.fn();
    }
    this.#now = target;
  }

  /** Like {@link advance}, but lets pending promise continuations run before and after each timer. */
  async runFor(ms: number): Promise<void> {
    const target = this.#now + clampDelay(ms);
    await settle();
    for (let entry = this.#takeDue(target); entry; entry = this.#takeDue(target)) {
      this.#now = entry.due;
      entry.fn();
      await settle();
    }
    this.#now = target;
  }

  /**
   * Runs timers (and the promise continuations between them) until none is pending. Throws after
   * `limit` timers, because a periodic timer never lets the clock go idle.
   */
  async runUntilIdle(limit = DEFAULT_IDLE_LIMIT): Promise<void> {
    await settle();
    for (let ran = 0; ; ran++) {
      const due = this.nextDue();
      if (due === undefined) return;
      if (ran >= limit) throw new Error(`SimulatedClock: still busy after ${limit} timers (a timer reschedules itself?)`);
      await this.runFor(due - this.#now);
    }
  }

  /** Runs until `condition()` holds, checking after every timer; false if `maxMs` passed first. */
  async runUntil(condition: () => boolean, maxMs: number): Promise<boolean> {
    const deadline = this.#now + clampDelay(maxMs);
    await settle();
    while (!condition()) {
      const due = this.nextDue();
      if (due === undefined || due > deadline) {
        await this.runFor(deadline - this.#now);
        return condition();
      }
      await this.runFor(due - this.#now);
    }
    return true;
  }

  #takeDue(target: number): Scheduled | undefined {
    this.#dropCancelledHead();
    const head = this.#heap[0];
    if (!head || head.due > target) return undefined;
    return this.#pop();
  }

  #dropCancelledHead(): void {
    while (this.#heap[0]?.cancelled) this.#pop();
  }

  #push(entry: Scheduled): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Scheduled, heap[parent] as Scheduled)) break;
      swap(heap, i, parent);
      i = parent;
    }
  }

  #pop(): Scheduled | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left] as Scheduled, heap[smallest] as Scheduled)) smallest = left;
        if (right < heap.length && before(heap[right] as Scheduled, heap[smallest] as Scheduled)) smallest = right;
        if (smallest === i) break;
        swap(heap, i, smallest);
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

function swap(heap: Scheduled[], i: number, j: number): void {
  const t = heap[i] as Scheduled;
  heap[i] = heap[j] as Scheduled;
  heap[j] = t;
}
