/**
 * Which of our records answer a question (RFC 6762 §6), with the additional records a querier
 * needs next (RFC 6763 §12: SRV, TXT and addresses after a PTR; addresses after an SRV), less the
 * answers the querier already knows (known-answer suppression, RFC 6762 §7.1).
 * @module
 */
import { systemClock, type Timer } from '../../internal/clock.js';
import { foldName } from './names.js';
import { type Message, type Question, type RecordGroup, type Rr, recordKey } from './packet.js';
import type { Target } from './prober.js';
import type { HostEntry, Publication } from './publication.js';
import { DEFENCE_RATE_LIMIT_MS, type Sender } from './sender.js';
import { MDNS_PORT } from './transport.js';

/** Where the responder keeps what it publishes, by folded owner name. */
export interface RecordIndex {
  instance(fname: string): Publication | undefined;
  host(fname: string): HostEntry | undefined;
  /** Publications holding shared records (PTRs, listings) under this name. */
  shared(fname: string): Iterable<Publication>;
}

function matches(rr: Rr, fname: string, type: string): boolean {
  return (type === 'ANY' || rr.type === type) && foldName(rr.name) === fname;
}

/** The records of `pub` a PTR pointing at `ptrTarget` should bring along. */
function additionalsFor(pub: Publication, ptrTarget: string, target: Target): Rr[] {
  const fname = foldName(ptrTarget);
  if (fname === pub.fname) return pub.resolution(target);
  return pub.shared.filter((r) => foldName(r.name) === fname);
}

/** Answer groups for one question from live records only. */
export function answerQuestion(index: RecordIndex, question: Question, target: Target): RecordGroup[] {
  const fname = foldName(question.name);
  const type = question.type;
  const groups: RecordGroup[] = [];
  const seen = new Set<string>();
  for (const pub of index.shared(fname)) {
    if (pub.state !== 'live') continue;
    for (const rr of pub.shared) {
      if (!matches(rr, fname, type)) continue;
      const key = recordKey(rr);
      if (seen.has(key)) continue;
      seen.add(key);
      groups.push({
        answers: [rr],
        additionals: rr.type === 'PTR' ? additionalsFor(pub, rr.data as string, target) : [],
        current: () => pub.current,
      });
    }
  }
  const pub = index.instance(fname);
  if (pub?.state === 'live') {
    const own = pub.resolution(target).filter((rr) => matches(rr, fname, type));
    if (own.length > 0) {
      const hasSrv = own.some((r) => r.type === 'SRV');
      const extra = hasSrv && pub.host && pub.host.fname !== fname ? pub.host.records(target) : [];
      groups.push({ answers: own, additionals: extra, current: () => pub.current });
    }
  }
  const host = index.host(fname);
  if (host?.state === 'live' && host.fname !== pub?.fname) {
    const own = host.records(target).filter((rr) => matches(rr, fname, type));
    if (own.length > 0) groups.push({ answers: own, current: () => host.users.size > 0 });
  }
  return groups;
}

/**
 * Drops answers the querier listed as known with at least half our TTL left; a group left
 * without answers goes entirely. Additional records it already knows are dropped too.
 */
export function suppressKnown(groups: readonly RecordGroup[], known: readonly Rr[]): RecordGroup[] {
  if (known.length === 0) return [...groups];
  const ttls = new Map<string, number>();
  for (const rr of known) ttls.set(recordKey(rr), Math.max(ttls.get(recordKey(rr)) ?? 0, rr.ttl));
  const knownWell = (rr: Rr) => {
    const ttl = ttls.get(recordKey(rr));
    return ttl !== undefined && ttl >= rr.ttl / 2;
  };
  const out: RecordGroup[] = [];
  for (const g of groups) {
    const answers = g.answers.filter((r) => !knownWell(r));
    if (answers.length > 0) out.push({ ...g, answers, additionals: (g.additionals ?? []).filter((r) => !knownWell(r)) });
  }
  return out;
}

/** Legacy unicast answers (RFC 6762 §6.7): TTL at most 10 s, no cache-flush bit. */
export function legacyGroups(groups: readonly RecordGroup[]): RecordGroup[] {
  const cap = (rr: Rr): Rr => ({ ...rr, ttl: Math.min(rr.ttl, 10), flush: false });
  return groups.map((g) => ({ answers: g.answers.map(cap), additionals: (g.additionals ?? []).map(cap) }));
}

/** Whether every answer is a unique record, which RFC 6762 §6 lets us send without the 20-120 ms delay. */
export function allUnique(group: RecordGroup): boolean {
  return group.answers.every((r) => r.flush);
}

/** Where a query came from: the interface (by source subnet) and the querier's address and port. */
export interface Arrival {
  readonly target: Target;
  readonly address: string;
  readonly port: number;
}

/** RFC 6762 §7.2: wait 400-500 ms for the rest of a multi-packet known-answer list. */
const TC_WAIT_MS = 450;

/**
 * Answers queries: unique answers at once, shared ones after 20-120 ms (collected per interface,
 * dropped when another responder answers first), unicast for QU questions, legacy unicast with the
 * question echoed for queriers not on port 5353, probe defence within 250 ms.
 */
export class Answerer {
  readonly #index: RecordIndex;
  readonly #sender: Sender;
  readonly #pending = new Map<string, { target: Target; groups: RecordGroup[]; timer: Timer }>();
  readonly #tc = new Map<string, { arrival: Arrival; message: Message; known: Rr[]; timer: Timer }>();
  #closed = false;

  constructor(index: RecordIndex, sender: Sender) {
    this.#index = index;
    this.#sender = sender;
  }

  onQuery(message: Message, arrival: Arrival): void {
    if (this.#closed) return;
    const legacy = arrival.port !== MDNS_PORT;
    const tcKey = `${arrival.address}|${arrival.port}`;
    const waiting = this.#tc.get(tcKey);
    if (waiting && message.questions.length === 0) {
      waiting.known.push(...message.answers);
      if (!message.tc) this.#flushTc(tcKey);
      return;
    }
    // New questions from the same querier: what it sent before is complete (a continuation was lost).
    if (waiting) this.#flushTc(tcKey);
    if (message.tc && !legacy) {
      const timer = systemClock.setTimeout(() => this.#flushTc(tcKey), TC_WAIT_MS);
      this.#tc.set(tcKey, { arrival, message, known: [...message.answers], timer });
      return;
    }
    this.#answer(message, arrival, message.answers);
  }

  #flushTc(key: string): void {
    const entry = this.#tc.get(key);
    if (!entry) return;
    entry.timer?.cancel();
    this.#tc.delete(key);
    this.#answer(entry.message, entry.arrival, entry.known);
  }

  #answer(message: Message, arrival: Arrival, known: readonly Rr[]): void {
    const { target } = arrival;
    const legacy = arrival.port !== MDNS_PORT;
    const probe = message.authorities.length > 0;
    const now: RecordGroup[] = [];
    const later: RecordGroup[] = [];
    const unicast: RecordGroup[] = [];
    for (const q of message.questions) {
      const groups = suppressKnown(answerQuestion(this.#index, q, target), known);
      if (legacy || q.qu) unicast.push(...groups);
      else for (const g of groups) (probe || allUnique(g) ? now : later).push(g);
    }
    const sender = this.#sender;
    if (unicast.length > 0) {
      if (legacy)
        sender.unicastResponse(legacyGroups(unicast), arrival.address, arrival.port, { id: message.id, questions: message.questions });
      else sender.unicastResponse(unicast, arrival.address, MDNS_PORT);
    }
    if (now.length > 0) sender.multicastResponse(now, target, probe ? DEFENCE_RATE_LIMIT_MS : undefined);
    if (later.length > 0) this.#delay(later, target);
  }

  /** RFC 6762 §6: shared answers wait 20-120 ms so that several responders do not answer in one burst. */
  #delay(groups: RecordGroup[], target: Target): void {
    const key = `${target.iface.name}/${target.family}`;
    const pending = this.#pending.get(key);
    if (pending) {
      pending.groups.push(...groups);
      return;
    }
    const timer = systemClock.setTimeout(
      () => {
        this.#pending.delete(key);
        const current = entry.groups.filter((g) => g.current?.() ?? true);
        if (!this.#closed) this.#sender.multicastResponse(current, target);
      },
      20 + Math.random() * 100,
    );
    const entry = { target, groups, timer };
    this.#pending.set(key, entry);
  }

  /** RFC 6762 §7.4: another responder just sent what we were about to; our pending copy is redundant. */
  suppressDuplicates(message: Message, target: Target): void {
    const pending = this.#pending.get(`${target.iface.name}/${target.family}`);
    if (!pending) return;
    for (const rr of [...message.answers, ...message.additionals]) {
      if (rr.ttl === 0) continue;
      const key = recordKey(rr);
      for (const g of pending.groups) {
        const kept = g.answers.filter((a) => recordKey(a) !== key || rr.ttl < a.ttl / 2);
        if (kept.length !== g.answers.length) (g as { answers: readonly Rr[] }).answers = kept;
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.timer?.cancel();
    for (const t of this.#tc.values()) t.timer?.cancel();
    this.#pending.clear();
    this.#tc.clear();
  }
}
