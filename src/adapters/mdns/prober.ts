/**
 * Probing (RFC 6762 §8.1, §8.2): before a unique name is used, three probe queries 250 ms apart
 * (after a random 0-250 ms wait) ask for it, with the records we propose in the Authority
 * section. A response holding the name with other data is a conflict. A probe from another host
 * for the same name is a simultaneous probe: the sets of proposed records are compared
 * (class, type, raw rdata) and the lexicographically earlier set loses, waits one second and
 * probes again, by which time the winner defends its name and the loser renames.
 *
 * Names claimed close together share probe packets, so registering 100 services at once costs
 * the same three rounds as registering one.
 * @module
 */
import { systemClock, type Timer } from '../../internal/clock.js';
import type { NetInterface } from './interfaces.js';
import { foldName } from './names.js';
import { compareForTieBreak, type Message, PACKET_BUDGET, type Question, questionBytes, type Rr, recordBytes } from './packet.js';

export interface Target {
  readonly iface: NetInterface;
  readonly family: 4 | 6;
}

/** A unique name we want, and what to do once it is ours or taken. */
export interface Claim {
  readonly name: string;
  /** The records we propose for the name on this link (the Authority section of our probes). */
  records(target: Target): Rr[];
  won(): void;
  /** Someone else holds the name: rename (or give up) and claim again. */
  conflict(): void;
}

export interface ProberHost {
  targets(): Target[];
  /** Whether another socket shares port 5353 here: then probes must not ask for unicast answers. */
  portShared(): boolean;
  send(message: Message, target: Target): void;
}

const PROBE_INTERVAL_MS = 250;
const PROBES = 3;
/** RFC 6762 §8.2: the loser of a simultaneous probe waits this long before probing again. */
const TIE_BREAK_BACKOFF_MS = 1000;

interface Group {
  readonly claims: Set<Claim>;
  sent: number;
  timer: Timer | undefined;
}

export class Prober {
  readonly #host: ProberHost;
  /** The group still gathering claims before its first probe. */
  #forming: Group | undefined;
  readonly #groups = new Set<Group>();
  /** Claims that lost a tie-break and wait their second out; a conflict seen meanwhile still counts. */
  readonly #deferred = new Map<Claim, Timer>();
  #closed = false;
  probesSent = 0;
  tieBreaksLost = 0;

  constructor(host: ProberHost) {
    this.#host = host;
  }

  claim(claim: Claim): void {
    if (this.#closed) return;
    if (!this.#forming) {
      const group: Group = { claims: new Set(), sent: 0, timer: undefined };
      this.#forming = group;
      this.#groups.add(group);
      group.timer = systemClock.setTimeout(() => this.#round(group), Math.random() * PROBE_INTERVAL_MS);
    }
    this.#forming.claims.add(claim);
  }

  /** Stops probing for a claim (the registration went away). */
  cancel(claim: Claim): void {
    for (const group of this.#groups) group.claims.delete(claim);
    const timer = this.#deferred.get(claim);
    timer?.cancel();
    this.#deferred.delete(claim);
  }

  /** Whether `fname` is being probed for (or waiting to be probed again after losing a tie-break). */
  probing(fname: string): Claim | undefined {
    for (const group of this.#groups) for (const c of group.claims) if (foldName(c.name) === fname) return c;
    for (const c of this.#deferred.keys()) if (foldName(c.name) === fname) return c;
    return undefined;
  }

  /** A response showed another holder of the claimed name. */
  conflict(claim: Claim): void {
    this.cancel(claim);
    claim.conflict();
  }

  /**
   * A probe from someone for names we are probing: the §8.2 tie-break. Identical proposals are
   * our own probe looped back (or a twin with the same data), which is no conflict.
   */
  onProbe(message: Message, target: Target): void {
    // Most probes heard are for names we claim nothing on: every host's, whenever it registers.
    // (A claim waiting out a lost tie-break is in no group, and takes no part in another.)
    if (this.#groups.size === 0) return;
    for (const q of message.questions) {
      const fname = foldName(q.name);
      const claim = this.probing(fname);
      if (!claim || this.#deferred.has(claim)) continue;
      const theirs = message.authorities.filter((r) => foldName(r.name) === fname);
      if (theirs.length === 0) continue;
      const proposal = (t: Target) => claim.records(t).map((r) => ({ ...r, flush: false }));
      // What we propose on any of our links, heard back (one host, two interfaces on one LAN), is no rival.
      if (this.#host.targets().some((t) => compareForTieBreak(proposal(t), theirs) === 0)) continue;
      if (compareForTieBreak(proposal(target), theirs) >= 0) continue;
      this.tieBreaksLost++;
      this.cancel(claim);
      const timer = systemClock.setTimeout(() => {
        this.#deferred.delete(claim);
        this.claim(claim);
      }, TIE_BREAK_BACKOFF_MS);
      this.#deferred.set(claim, timer);
    }
  }

  #round(group: Group): void {
    if (this.#forming === group) this.#forming = undefined;
    if (this.#closed || group.claims.size === 0) {
      this.#groups.delete(group);
      return;
    }
    if (group.sent === PROBES) {
      this.#groups.delete(group);
      for (const claim of [...group.claims]) claim.won();
      return;
    }
    group.sent++;
    // RFC 6762 §8.1: probes ask for unicast answers, so a defender answers at once despite its rate limit;
    // not while another socket shares port 5353 here, since such a reply would reach only one of us.
    const qu = !this.#host.portShared();
    for (const target of this.#host.targets()) {
      for (const message of probeMessages([...group.claims], target, qu)) {
        this.probesSent++;
        this.#host.send(message, target);
      }
    }
    group.timer = systemClock.setTimeout(() => this.#round(group), PROBE_INTERVAL_MS);
  }

  close(): void {
    this.#closed = true;
    for (const group of this.#groups) group.timer?.cancel();
    for (const timer of this.#deferred.values()) timer?.cancel();
    this.#groups.clear();
    this.#deferred.clear();
    this.#forming = undefined;
  }
}

/** Probe queries for these claims: each name's question travels with its proposed records. */
export function probeMessages(claims: readonly Claim[], target: Target, qu: boolean): Message[] {
  const out: Message[] = [];
  let questions: Question[] = [];
  let authorities: Rr[] = [];
  let size = 12;
  for (const claim of claims) {
    const q: Question = { name: claim.name, type: 'ANY', qu };
    // Authority records never carry the cache-flush bit (RFC 6762 §8.1).
    const records = claim.records(target).map((r) => ({ ...r, flush: false }));
    const bytes = questionBytes(q) + records.reduce((n, r) => n + recordBytes(r), 0);
    if (questions.length > 0 && size + bytes > PACKET_BUDGET) {
      out.push({ id: 0, response: false, tc: false, questions, answers: [], authorities, additionals: [] });
      questions = [];
      authorities = [];
      size = 12;
    }
    questions.push(q);
    authorities.push(...records);
    size += bytes;
  }
  if (questions.length > 0) out.push({ id: 0, response: false, tc: false, questions, answers: [], authorities, additionals: [] });
  return out;
}
