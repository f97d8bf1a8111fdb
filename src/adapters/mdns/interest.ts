/**
 * Continuous querying (RFC 6762 §5.2) for one browse name: the first query soon, the second a
 * second later, then at doubling intervals up to a cap; restarted when an interface comes up.
 * An interest is warm once its first query's response window has passed: from then on the cache
 * holds what the network had to say, and an empty answer is a real "not found".
 * @module
 */
import { systemClock, type Timer } from '../../internal/clock.js';

/** RFC 6762 §6: responders delay shared answers by up to 120 ms; a little slack on top. */
export const RESPONSE_WINDOW_MS = 125;
/** RFC 6762 §5.2: at least one second between the first two queries, doubling after. */
export const FIRST_INTERVAL_MS = 1000;
/** The most a query interval is stretched at random (never shortened: §5.2's one second and doubling are minimums). */
const JITTER = 0.02;
/** How much longer than the peer whose query stood in for ours we wait (in intervals): see stoodIn. */
const FOLLOW = 0.1;
/** The most that asking together with a peer moves our next query later (in intervals): see askedTogether. */
const SPREAD = 0.25;

export class Interest {
  readonly fname: string;
  /** The PTR name queried. */
  readonly browse: string;
  /** The service asked for; undefined for "every service". */
  readonly service: string | undefined;
  refs = 0;
  /** Queries sent so far. */
  sentCount = 0;
  /** Opened by a lookup that is waiting for an answer now (RFC 6762 §5.1), not only by a watcher. */
  oneShot = false;
  interval = FIRST_INTERVAL_MS;
  nextAt: number;
  /** When the current wait began: the last query (sent or suppressed, RFC 6762 §7.3), or a restart of the schedule. */
  periodStart = Number.NEGATIVE_INFINITY;
  warm = false;
  readonly ready: Promise<void>;
  #resolveReady!: () => void;
  #windowTimer: Timer | undefined;
  lingerTimer: Timer | undefined;
  lingerUntil = 0;
  /** Whether the current wait began with a query of ours (not a peer's standing in), and no clash moved it since. */
  #askedThisPeriod = false;
  /** Interests opened on behalf of this one (Go Micro's listing leads to per-service queries). */
  readonly children = new Set<Interest>();

  constructor(fname: string, browse: string, service: string | undefined, firstAt: number) {
    this.fname = fname;
    this.browse = browse;
    this.service = service;
    this.nextAt = firstAt;
    this.ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  get active(): boolean {
    return this.refs > 0 || this.lingerTimer !== undefined;
  }

  /** Records that a query went out now and schedules the next one. */
  sent(now: number, maxInterval: number): void {
    this.#advance(now, now, 0, maxInterval);
    this.#askedThisPeriod = true;
  }

  /**
   * Records that a peer's query, heard at `heardAt`, stood in for ours (RFC 6762 §7.3): counted
   * as sent, and the next one is due a tenth of an interval after the peer's next. Timed from
   * the peer's query rather than from now, the gap between the two stays in a band (8-12 % of
   * the interval, well clear of any event-loop lag); timed from now, it would wander at random
   * with the jitter, come back near zero now and then, and both would ask for a while.
   */
  stoodIn(now: number, heardAt: number, maxInterval: number): void {
    this.#advance(now, heardAt, FOLLOW, maxInterval);
    this.#askedThisPeriod = false;
  }

  /**
   * A peer asked our question in the first half of a wait that began with our own query: the
   * two of us asked together (each timer fired before the other's query was read). Once a
   * period, our next query moves up to a quarter of the interval later, at random, so that one
   * of us leads next time and the other follows (see stoodIn).
   */
  askedTogether(now: number): void {
    if (!this.#askedThisPeriod || now >= this.periodStart + (this.nextAt - this.periodStart) / 2) return;
    this.#askedThisPeriod = false;
    this.nextAt += Math.random() * SPREAD * (this.nextAt - this.periodStart);
  }

  #advance(now: number, from: number, extra: number, maxInterval: number): void {
    if (!this.warm && this.#windowTimer === undefined) {
      this.#windowTimer = systemClock.setTimeout(() => {
        this.warm = true;
        this.#resolveReady();
      }, RESPONSE_WINDOW_MS);
    }
    this.sentCount++;
    this.periodStart = now;
    // Up to 2 % later, at random, so that two browsers never keep one phase by construction.
    this.nextAt = from + this.interval * (1 + extra + Math.random() * JITTER);
    this.interval = Math.min(this.interval * 2, maxInterval);
  }

  /** Back to the start of the schedule (an interface came up): query again within 20-120 ms. */
  reset(now: number): void {
    this.interval = FIRST_INTERVAL_MS;
    this.periodStart = now;
    this.#askedThisPeriod = false;
    this.nextAt = now + 20 + Math.random() * 100;
  }

  /** Resolves once this interest and every child it has opened so far are warm. */
  async readyDeep(): Promise<void> {
    await this.ready;
    await Promise.all([...this.children].map((c) => c.ready));
  }

  stop(): void {
    this.#windowTimer?.cancel();
    this.lingerTimer?.cancel();
    this.lingerTimer = undefined;
    // Nobody waits on an interest that is gone, but a pending `ready` must not hang a caller.
    this.#resolveReady();
  }
}
