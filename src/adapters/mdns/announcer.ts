/**
 * Announcing (RFC 6762 §8.3): once a name is ours, every record of the node is multicast three
 * times, 1 s then 2 s apart, with the cache-flush bit on unique records; so is a node whose
 * rdata changes (§8.4), while heartbeats and unchanged re-registrations are single announcements.
 * Announcements due in the same turn of the event loop share packets, so a hundred nodes
 * registered together cost a few packets, not a hundred.
 * @module
 */

import { systemClock, type Timer } from '../../internal/clock.js';
import type { Rr } from './packet.js';
import type { Target } from './prober.js';
import type { Publication } from './publication.js';
import { RATE_LIMIT_MS, type Sender } from './sender.js';

/** 1 s then 2 s apart (a little over, so the one-second rule never holds one back). */
const ANNOUNCE_AT_MS = [0, 1010, 3020];
/** avahi sends three announcements; the RFC asks for at least two. */
export const ANNOUNCE_COUNT = ANNOUNCE_AT_MS.length;

export class Announcer {
  readonly #targets: () => Target[];
  readonly #sender: Sender;
  readonly #timers = new Map<Publication, Timer[]>();
  /** One pending retry per publication whose announcement the rate limit held back. */
  readonly #retries = new Map<Publication, Timer>();
  /** Publications due now, with the rate limit their announcement observes. */
  readonly #queue = new Map<Publication, number>();
  #scheduled = false;
  #closed = false;

  constructor(targets: () => Target[], sender: Sender) {
    this.#targets = targets;
    this.#sender = sender;
  }

  /** Announces now and `repeats - 1` more times on the schedule; 0 means one announcement (an update). */
  schedule(pub: Publication, repeats: number): void {
    this.stop(pub);
    const times = repeats === 0 ? [0] : ANNOUNCE_AT_MS.slice(0, repeats);
    const timers = times.map((at) => {
      const timer = systemClock.setTimeout(() => this.enqueue(pub, RATE_LIMIT_MS), at);
      return timer;
    });
    this.#timers.set(pub, timers);
  }

  stop(pub: Publication): void {
    for (const t of this.#timers.get(pub) ?? []) t?.cancel();
    this.#timers.delete(pub);
    this.#retries.get(pub)?.cancel();
    this.#retries.delete(pub);
    this.#queue.delete(pub);
  }

  /** Queues one announcement of `pub` for this turn; sent together with the others due now. */
  enqueue(pub: Publication, rateLimit: number): void {
    if (!pub.current || this.#closed) return;
    this.#queue.set(pub, Math.min(rateLimit, this.#queue.get(pub) ?? rateLimit));
    if (this.#scheduled) return;
    this.#scheduled = true;
    systemClock.immediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = [...this.#queue];
    this.#queue.clear();
    if (this.#closed) return;
    /** Publications with records the rate limit held back -> when the last of them may go. */
    const held = new Map<Publication, { wait: number; limit: number }>();
    // One reading of the clock for the rate limit, both for what is held back and for what goes: read
    // twice, a busy machine's milliseconds between them could send an announcement the first reading
    // held, and its retry would then find it just sent and announce it once more a second later.
    const now = this.#sender.now();
    for (const target of this.#targets()) {
      for (const limit of new Set(batch.map(([, l]) => l))) {
        const pubs = batch.filter(([p, l]) => l === limit && p.current).map(([p]) => p);
        const groups = pubs.map((p) => p.announcement(target));
        for (const [i, pub] of pubs.entries()) {
          // Only a wholly held announcement is retried: a partly sent one was refreshed within the second anyway.
          const wait = this.#sender.heldFor((groups[i] as { answers: readonly Rr[] }).answers, target, limit, now);
          if (wait > 0) held.set(pub, { wait: Math.max(wait, held.get(pub)?.wait ?? 0), limit });
        }
        this.#sender.multicastResponse(groups, target, limit, now);
      }
    }
    // Held back, not dropped: a heartbeat that falls within a second of an answer or of the previous
    // heartbeat (timers drift) goes out when the second is over, or a short TTL could run out first.
    for (const [pub, { wait, limit }] of held) {
      if (this.#retries.has(pub)) continue;
      const timer = systemClock.setTimeout(() => {
        this.#retries.delete(pub);
        this.enqueue(pub, limit);
      }, wait + 1);
      this.#retries.set(pub, timer);
    }
  }

  close(): void {
    this.#closed = true;
    for (const timers of this.#timers.values()) for (const t of timers) t?.cancel();
    this.#timers.clear();
    for (const t of this.#retries.values()) t?.cancel();
    this.#retries.clear();
    this.#queue.clear();
  }
}
