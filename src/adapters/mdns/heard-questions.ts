/**
 * Duplicate question suppression (RFC 6762 §7.3): the questions other hosts ask for our browse
 * names, so that a browser about to ask the same may count a peer's query as its own. What
 * counts: a QM question from port 5353 whose known answers are all ones we would list, heard on
 * every link we query on; never a QU question (its answers go to the asker alone), never our own
 * query looped back, and a truncated query only once its last packet is in (§7.2).
 * @module
 */
import type { Arrival } from './answers.js';
import type { Codec } from './codec.js';
import type { Interest } from './interest.js';
import { foldName } from './names.js';
import { type Message, packQuery, type Question, type Rr, recordKey } from './packet.js';
import type { Target } from './prober.js';
import { MDNS_PORT } from './transport.js';

export interface HeardQuestionsHost {
  codec: Codec;
  /** Every interface and family queries go out on. */
  targets(): readonly Target[];
  now(): number;
  /** The known answers we would list for a browse name now. */
  knownAnswers(fname: string, now: number): Rr[];
  /** Whether we browse this name (what we remember for names nobody browses goes first when full). */
  browsed(fname: string): boolean;
}

/** RFC 6762 §7.3: a peer's question heard this recently may stand in for a first query of ours. */
const FIRST_QUERY_DUP_MS = 100;
/** RFC 6762 §7.2: the rest of a multi-packet known-answer list follows within this long. */
const TC_WAIT_MS = 500;
/**
 * How long a query we sent is remembered, so a copy of it heard on another of our interfaces (two
 * on one link) is not taken for a peer's. Loopback copies never get here (see OwnEchoes).
 */
const OWN_QUERY_ECHO_MS = 2000;
const MAX_HEARD = 1024;

/** A peer's question heard for a browse name: when, on which link, and whether its known answers took several packets. */
interface Heard {
  readonly at: number;
  readonly multi: boolean;
}

/** A query being heard: the browse names it may stand in for (so far) and where it came from. */
interface HeardQuery extends Heard {
  readonly link: string;
  readonly fnames: Set<string>;
}

function linkKey(target: Target): string {
  return `${target.iface.name}/${target.family}`;
}

/** What tells a query packet apart: its questions (with the QU bit), its known answers with their TTLs, TC. */
function querySignature(message: Message): string {
  const questions = message.questions.map((q) => `${foldName(q.name)} ${q.type} ${q.qu ? 'QU' : 'QM'}`);
  const known = message.answers.map((r) => `${recordKey(r)} ${r.ttl}`);
  return `${message.tc ? 'TC' : ''}\u0001${questions.join('\u0001')}\u0002${known.join('\u0001')}`;
}

export class HeardQuestions {
  readonly #h: HeardQuestionsHost;
  /** Browse name -> link -> the latest peer question for it that may stand in for ours. */
  readonly #heard = new Map<string, Map<string, Heard>>();
  /** `address|port` -> a truncated query whose known answers are still arriving. */
  readonly #truncated = new Map<string, HeardQuery>();
  /** Signatures of the query packets we sent lately -> when, oldest first. */
  readonly #sentQueries = new Map<string, number>();

  constructor(host: HeardQuestionsHost) {
    this.#h = host;
  }

  /** Remembers a query we sent (packed as the sender packs it), so a copy of it heard back is known for ours. */
  sent(questions: readonly Question[], known: readonly Rr[]): void {
    const now = this.#h.now();
    for (const message of packQuery(questions, known)) {
      const signature = querySignature(message);
      this.#sentQueries.delete(signature);
      this.#sentQueries.set(signature, now);
    }
    for (const [signature, at] of this.#sentQueries) {
      if (now - at < OWN_QUERY_ECHO_MS) break;
      this.#sentQueries.delete(signature);
    }
  }

  /**
   * When a peer asked this interest's question recently enough to stand in for our query now, on
   * every link we query on (the latest of those times), or undefined: in the second half of our
   * current wait (so two queriers settle into one asking, whatever their phases), or, for a first
   * query, within the last 100 ms and in one packet (its answers, 20-120 ms after it, then land
   * within our response window; a multi-packet query is answered 400-500 ms late).
   */
  standIn(interest: Interest, now: number): number | undefined {
    if (this.#h.codec.profile === 'go-micro') return undefined;
    const heard = this.#heard.get(interest.fname);
    const targets = this.#h.targets();
    if (!heard || targets.length === 0) return undefined;
    const first = interest.sentCount === 0;
    const since = first ? now - FIRST_QUERY_DUP_MS : interest.periodStart + (interest.nextAt - interest.periodStart) / 2;
    let latest = Number.NEGATIVE_INFINITY;
    for (const t of targets) {
      const h = heard.get(linkKey(t));
      if (h === undefined || h.at < since || h.at > now || (first && h.multi)) return undefined;
      latest = Math.max(latest, h.at);
    }
    return latest;
  }

  /**
   * Takes in a query heard on `arrival`'s link. A peer's QM question for a browse name, from port
   * 5353, whose known answers are all ones we would list too, draws the multicast answers our own
   * query would: it may stand in for ours (see standsIn). Not counted: QU questions and
   * queries from other ports (their answers go to the asker alone), our own queries heard back
   * over another of our interfaces on the same link (remembered by content, and from one of our
   * addresses: several processes on one host share address and port), and a truncated query until
   * its last packet shows no known answer we lack. Returns the browse names it may stand in for.
   */
  onQuery(message: Message, arrival: Arrival): ReadonlySet<string> | undefined {
    if (arrival.port !== MDNS_PORT || this.#h.codec.profile === 'go-micro') return undefined;
    const now = this.#h.now();
    const source = `${arrival.address}|${arrival.port}`;
    let query: HeardQuery | undefined;
    if (message.questions.length > 0) {
      // Most queries heard ask nothing we browse (every probe, lookups of other services): they end here.
      let fnames: Set<string> | undefined;
      for (const q of message.questions) {
        if (q.type !== 'PTR' || q.qu) continue;
        const fname = foldName(q.name);
        if (this.#h.codec.isBrowseName(fname)) (fnames ??= new Set()).add(fname);
      }
      if (!fnames || this.#fromUs(message, arrival.address, now)) return undefined;
      query = { at: now, link: linkKey(arrival.target), multi: message.tc, fnames };
    } else {
      // More known answers of a truncated query from the same source (RFC 6762 §7.2); ours, heard
      // back, leave a peer's on this host (same address and port) in place.
      if (!this.#truncated.has(source) || this.#fromUs(message, arrival.address, now)) return undefined;
      query = this.#truncated.get(source);
      this.#truncated.delete(source);
      if (query && now - query.at > TC_WAIT_MS) query = undefined;
    }
    if (!query) return undefined;
    for (const fname of query.fnames) if (!this.#wouldKnowAll(fname, message.answers, now)) query.fnames.delete(fname);
    if (query.fnames.size === 0) return undefined;
    if (message.tc) {
      if (this.#truncated.size >= MAX_HEARD) this.#truncated.clear();
      this.#truncated.set(source, query);
      return undefined;
    }
    for (const fname of query.fnames) {
      let links = this.#heard.get(fname);
      if (!links) {
        // Names nobody browses only matter for a moment (a first query): those go first when full.
        if (this.#heard.size >= MAX_HEARD) for (const f of this.#heard.keys()) if (!this.#h.browsed(f)) this.#heard.delete(f);
        this.#heard.set(fname, (links = new Map()));
      }
      links.set(query.link, { at: query.at, multi: query.multi });
    }
    return query.fnames;
  }

  /** Whether every known answer a query lists for this browse name is one we would list too. */
  #wouldKnowAll(fname: string, answers: readonly Rr[], now: number): boolean {
    const theirs = answers.filter((r) => r.type === 'PTR' && (r.fname ?? foldName(r.name)) === fname);
    if (theirs.length === 0) return true;
    const ours = new Set(this.#h.knownAnswers(fname, now).map((r) => recordKey(r)));
    return theirs.every((r) => ours.has(recordKey(r)));
  }

  /** Whether a heard query is one of ours looped back: the same packet sent lately, from one of our addresses. */
  #fromUs(message: Message, address: string, now: number): boolean {
    if (this.#sentQueries.size === 0) return false;
    const at = this.#sentQueries.get(querySignature(message));
    if (at === undefined || now - at >= OWN_QUERY_ECHO_MS) return false;
    const bare = address.replace(/%.*$/, '').toLowerCase();
    return this.#h.targets().some((t) => [...t.iface.v4, ...t.iface.v6].some((a) => a.address.toLowerCase() === bare));
  }
}
