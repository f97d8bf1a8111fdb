/**
 * Follow-up questions of the browser, batched into one query per tick: refreshes of records
 * nearing their TTL (RFC 6762 §5.2) and resolution of instances heard of but incomplete (a PTR
 * without its SRV or TXT, an SRV whose host has no address yet). Resolution backs off and gives
 * up after a few tries, so a dead instance still listed somewhere costs little.
 *
 * The last refresh of a record also goes out from an ephemeral port as a legacy query (RFC 6762
 * §6.7): responders answer those at once by unicast, outside the one-second multicast limit, which
 * matters when the TTL is short enough that every refresh falls inside that second.
 * @module
 */
import { systemClock, type Timer } from '../../internal/clock.js';
import { joinKey } from '../../internal/keys.js';
import { foldName } from './names.js';
import type { Question } from './packet.js';

/** Questions asked within this window go out together. */
const BATCH_MS = 20;
const RESOLVE_TRIES = 4;
const FIRST_RETRY_MS = 1000;
const MAX_TRACKED = 4096;

export class Resolver {
  readonly #send: (questions: Question[], legacy: boolean) => void;
  readonly #now: () => number;
  readonly #pending = new Map<string, Question>();
  readonly #legacy = new Map<string, Question>();
  readonly #attempts = new Map<string, { tries: number; nextAt: number }>();
  #timer: Timer | undefined;
  #closed = false;

  constructor(send: (questions: Question[], legacy: boolean) => void, now: () => number) {
    this.#send = send;
    this.#now = now;
  }

  /** Queues a question; `legacyToo` also asks it from an ephemeral port. */
  ask(question: Question, legacyToo = false): void {
    if (this.#closed) return;
    const key = joinKey(foldName(question.name), String(question.type));
    this.#pending.set(key, question);
    if (legacyToo) this.#legacy.set(key, { ...question, qu: false });
    if (this.#timer) return;
    this.#timer = systemClock.setTimeout(() => this.#flush(), BATCH_MS);
  }

  /** Asks for an instance's missing SRV and/or TXT, if its backoff allows. */
  resolveInstance(name: string, srv: boolean, txt: boolean): void {
    if ((!srv && !txt) || !this.#due(foldName(name))) return;
    if (srv) this.ask({ name, type: 'SRV', qu: false });
    if (txt) this.ask({ name, type: 'TXT', qu: false });
  }

  /** Asks for a host's addresses, if its backoff allows. */
  resolveHost(name: string, ipv6: boolean): void {
    if (!this.#due(foldName(name))) return;
    this.ask({ name, type: 'A', qu: false });
    if (ipv6) this.ask({ name, type: 'AAAA', qu: false });
  }

  /** The name is complete again: forget its backoff. */
  done(fname: string): void {
    this.#attempts.delete(fname);
  }

  #due(fname: string): boolean {
    const now = this.#now();
    const state = this.#attempts.get(fname);
    if (state && (state.tries >= RESOLVE_TRIES || now < state.nextAt)) return false;
    if (this.#attempts.size >= MAX_TRACKED) this.#attempts.clear();
    const tries = (state?.tries ?? 0) + 1;
    this.#attempts.set(fname, { tries, nextAt: now + FIRST_RETRY_MS * 2 ** (tries - 1) });
    return true;
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    for (const [queue, legacy] of [
      [this.#pending, false],
      [this.#legacy, true],
    ] as const) {
      if (queue.size === 0) continue;
      const questions = [...queue.values()];
      queue.clear();
      this.#send(questions, legacy);
    }
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#pending.clear();
    this.#legacy.clear();
  }
}
