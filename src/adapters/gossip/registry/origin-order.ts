/**
 * Applies each origin's updates in the order it made them, and holds updates that arrive before
 * their origin is known. Every update names the origin's change before it (`prev`); one whose
 * `prev` has not been applied here waits, for a bounded time, until that change arrives (gossip
 * takes many paths, so a later change can overtake an earlier one), then goes anyway. An update
 * from an origin SWIM has not listed yet (a member's first registration often outruns its own
 * alive message) waits until the origin joins, and is dropped and counted if it never does; one
 * from an origin SWIM holds dead or left at the same or a later incarnation is dropped and counted.
 * What is held is bounded in count and bytes: past either bound the oldest held update is dropped.
 * @module
 */
import type { Clock, Timer } from '../../../internal/clock.js';

/** One update as the gate sees it; `T` is what the registry applies. */
export interface GatedUpdate<T> {
  origin: string;
  seq: number;
  /** The origin's change before this one; undefined: no ordering information (applied at once). */
  prev: number | undefined;
  /** Whether this update is a change that later ones may name as `prev` (a heartbeat is not). */
  change: boolean;
  /** The origin's incarnation when it sent the update, if it said. */
  incarnation: number | undefined;
  /** Bytes it holds while waiting (the memory bound counts these). */
  bytes: number;
  item: T;
}

/** What SWIM says of an origin (`incarnation`: the one it is known at). */
export type OriginStatus = { state: 'alive' } | { state: 'gone'; incarnation: number } | { state: 'unknown' };

/** Why a held or arriving update was dropped. */
export type GateDrop = 'gone' | 'unknown' | 'overflow';

export interface OriginGateOptions<T> {
  clock: Clock;
  /** How long an update waits for the change before it. */
  gapHoldMs: number;
  /** How long an update waits for its origin to become known to SWIM. */
  unknownHoldMs: number;
  /** Most updates held at once. */
  maxHeld: number;
  /** Most bytes held at once. */
  maxHeldBytes: number;
  status(origin: string): OriginStatus;
  apply(update: GatedUpdate<T>): void;
  drop(update: GatedUpdate<T>, why: GateDrop): void;
}

interface Held<T> {
  update: GatedUpdate<T>;
  until: number;
  /** Waiting for the origin to be known (else: for a missing change). */
  unknown: boolean;
  /** Still held (an entry of the arrival list may have left already). */
  live: boolean;
}

interface OriginState<T> {
  /** The newest change applied from this origin; undefined until the first update. */
  head: number | undefined;
  /** Held updates, ascending by sequence. */
  held: Held<T>[];
}

export class OriginGate<T> {
  readonly #o: OriginGateOptions<T>;
  readonly #origins = new Map<string, OriginState<T>>();
  /** Every held update in arrival order, to drop the oldest past a bound. */
  #arrivals: Held<T>[] = [];
  #heldCount = 0;
  #heldBytes = 0;
  #timer: Timer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  /** Updates that waited and were then applied. */
  released = 0;
  /** Updates that had to wait (for their origin or an earlier change). */
  heldTotal = 0;

  constructor(options: OriginGateOptions<T>) {
    this.#o = options;
  }

  /** Updates held right now. */
  get heldCount(): number {
    return this.#heldCount;
  }

  /** Bytes held right now. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Takes an arriving update: applies it, holds it, or drops it. */
  submit(update: GatedUpdate<T>): void {
    const status = this.#o.status(update.origin);
    if (status.state === 'gone') {
      // A later life than the one SWIM buried: its alive message has not reached us yet.
      if (update.incarnation !== undefined && update.incarnation > status.incarnation) this.#hold(update, true);
      else this.#o.drop(update, 'gone');
      return;
    }
    if (status.state === 'unknown') {
      this.#hold(update, true);
      return;
    }
    const state = this.#state(update.origin);
    if (state.head === undefined || update.prev === undefined || update.prev <= state.head) {
      this.#apply(state, update);
      this.#release(state);
    } else this.#hold(update, false);
  }

  /** SWIM now lists `origin` alive: what waited for it goes through the ordering. */
  known(origin: string): void {
    const state = this.#origins.get(origin);
    if (!state) return;
    const waiting = state.held.filter((h) => h.unknown);
    if (waiting.length === 0) return;
    for (const h of waiting) this.#unhold(state, h);
    for (const h of waiting) {
      this.released++;
      this.submit(h.update);
    }
  }

  /** SWIM declared `origin` dead or left: what it still has waiting is dropped. */
  gone(origin: string): void {
    const state = this.#origins.get(origin);
    if (!state) return;
    for (const h of [...state.held]) {
      this.#unhold(state, h);
      this.#o.drop(h.update, 'gone');
    }
    // A later life starts its own order.
    this.#origins.delete(origin);
  }

  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#origins.clear();
    this.#arrivals = [];
    this.#heldCount = 0;
    this.#heldBytes = 0;
  }

  #state(origin: string): OriginState<T> {
    let state = this.#origins.get(origin);
    if (!state) {
      state = { head: undefined, held: [] };
      this.#origins.set(origin, state);
    }
    return state;
  }

  #apply(state: OriginState<T>, update: GatedUpdate<T>): void {
    // The first update from an origin starts its order where that update says the origin is.
    const base = state.head ?? update.prev ?? 0;
    state.head = Math.max(base, update.change ? update.seq : 0);
    this.#o.apply(update);
  }

  /** Applies held updates of this origin whose change before them is now applied, in sequence order. */
  #release(state: OriginState<T>): void {
    for (let i = 0; i < state.held.length; ) {
      const h = state.held[i] as Held<T>;
      if (!h.unknown && (h.update.prev === undefined || state.head === undefined || h.update.prev <= state.head)) {
        this.#unhold(state, h);
        this.released++;
        this.#apply(state, h.update);
        i = 0;
      } else i++;
    }
  }

  #hold(update: GatedUpdate<T>, unknown: boolean): void {
    this.heldTotal++;
    const state = this.#state(update.origin);
    const held: Held<T> = {
      update,
      unknown,
      live: true,
      until: this.#o.clock.now() + (unknown ? this.#o.unknownHoldMs : this.#o.gapHoldMs),
    };
    const at = state.held.findIndex((h) => h.update.seq > update.seq);
    if (at < 0) state.held.push(held);
    else state.held.splice(at, 0, held);
    this.#arrivals.push(held);
    this.#heldCount++;
    this.#heldBytes += update.bytes;
    while (this.#heldCount > this.#o.maxHeld || this.#heldBytes > this.#o.maxHeldBytes) {
      const oldest = this.#arrivals.find((h) => h.live);
      if (!oldest) break;
      const s = this.#origins.get(oldest.update.origin) as OriginState<T>;
      this.#unhold(s, oldest);
      this.#o.drop(oldest.update, 'overflow');
    }
    this.#schedule(held.until);
  }

  #unhold(state: OriginState<T>, h: Held<T>): void {
    if (!h.live) return;
    h.live = false;
    const i = state.held.indexOf(h);
    if (i >= 0) state.held.splice(i, 1);
    this.#heldCount--;
    this.#heldBytes -= h.update.bytes;
    // An origin we only ever held for (never applied) leaves no trace once nothing waits.
    if (state.held.length === 0 && state.head === undefined) this.#origins.delete(h.update.origin);
    // Arrivals is trimmed lazily: entries no longer held are cut when they lead, or in one pass when many.
    while (this.#arrivals.length > 0 && !(this.#arrivals[0] as Held<T>).live) this.#arrivals.shift();
    if (this.#arrivals.length > 4 * this.#heldCount + 64) this.#arrivals = this.#arrivals.filter((x) => x.live);
  }

  #schedule(at: number): void {
    if (at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimeout(() => this.#expire(), Math.max(0, at - this.#o.clock.now()) + 1);
  }

  /** Updates whose wait is over: a missing change is given up on; an origin still unknown drops them. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#o.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [origin, state] of [...this.#origins]) {
      for (const h of [...state.held]) {
        if (!h.live) continue;
        if (h.until > now) {
          next = Math.min(next, h.until);
          continue;
        }
        this.#unhold(state, h);
        if (h.unknown) {
          if (this.#o.status(origin).state === 'alive') {
            this.released++;
            this.submit(h.update);
          } else this.#o.drop(h.update, 'unknown');
        } else {
          // The change before it is lost or superseded: accept the gap and go on from here.
          state.head = Math.max(state.head ?? 0, h.update.prev ?? 0);
          this.released++;
          this.#apply(state, h.update);
          this.#release(state);
        }
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
  }
}
