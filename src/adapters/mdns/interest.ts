/**
 * Continuous querying (RFC 6762 §5.2) for one browse name: the first query soon, the second a
 * second later, then at doubling intervals up to a cap; restarted when an interface comes up.
 * An interest is warm once its first query's response window has passed: from then on the cache
 * holds what the network had to say, and an empty answer is a real "not found".
 * @module
 */

/** RFC 6762 §6: responders delay shared answers by up to 120 ms; a little slack on top. */
export const RESPONSE_WINDOW_MS = 125;
/** RFC 6762 §5.2: at least one second between the first two queries, doubling after. */
export const FIRST_INTERVAL_MS = 1000;
/** The most a query interval is stretched at random (never shortened: §5.2's one second and doubling are minimums). */
const JITTER = 0.02;

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
  #windowTimer: NodeJS.Timeout | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  lingerUntil = 0;
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
    if (!this.warm && this.#windowTimer === undefined) {
      this.#windowTimer = setTimeout(() => {
        this.warm = true;
        this.#resolveReady();
      }, RESPONSE_WINDOW_MS);
      this.#windowTimer.unref();
    }
    this.sentCount++;
    this.periodStart = now;
    // Up to 2 % later, at random: two browsers whose queries once went out together (each timer
    // fired before the other's query was read) would otherwise stay in step at the cap, and
    // neither would ever hear the other's question first (RFC 6762 §7.3 needs one to lead).
    this.nextAt = now + this.interval * (1 + Math.random() * JITTER);
    this.interval = Math.min(this.interval * 2, maxInterval);
  }

  /** Back to the start of the schedule (an interface came up): query again within 20-120 ms. */
  reset(now: number): void {
    this.interval = FIRST_INTERVAL_MS;
    this.periodStart = now;
    this.nextAt = now + 20 + Math.random() * 100;
  }

  /** Resolves once this interest and every child it has opened so far are warm. */
  async readyDeep(): Promise<void> {
    await this.ready;
    await Promise.all([...this.children].map((c) => c.ready));
  }

  stop(): void {
    clearTimeout(this.#windowTimer);
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    // Nobody waits on an interest that is gone, but a pending `ready` must not hang a caller.
    this.#resolveReady();
  }
}
