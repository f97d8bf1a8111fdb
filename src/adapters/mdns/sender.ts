/**
 * Everything that leaves the host goes through here: packing records into packets, the
 * per-interface rule that a record is not multicast twice within one second (RFC 6762 §6;
 * probe defence may repeat after 250 ms, goodbyes are exempt), and counting what was sent.
 * @module
 */
import type { NetInterface } from './interfaces.js';
import {
  encodeMessage,
  type Message,
  PacketError,
  packQuery,
  packResponses,
  type Question,
  type RecordGroup,
  type Rr,
  recordKey,
} from './packet.js';
import type { Target } from './prober.js';
import type { Transport } from './transport.js';

/** RFC 6762 §6: at most one multicast of a record per interface per second. */
export const RATE_LIMIT_MS = 1000;
/** RFC 6762 §6: a probe may be answered again after 250 ms. */
export const DEFENCE_RATE_LIMIT_MS = 250;
/** How long a record we sent is remembered as ours, so its echo is never taken for a conflict. */
const OWN_ECHO_MS = 5000;

export interface SendStats {
  packetsSent: number;
  responsesSent: number;
  queriesSent: number;
  suppressedByRateLimit: number;
  encodeErrors: number;
}

function targetKey(target: Target): string {
  return `${target.iface.name}/${target.family}`;
}

export class Sender {
  readonly #transport: Transport;
  readonly #now: () => number;
  /** `recordKey|iface/family` -> when it was last multicast there. */
  readonly #last = new Map<string, number>();
  /** recordKey -> when we last sent it anywhere. */
  readonly #ours = new Map<string, number>();
  readonly stats: SendStats = { packetsSent: 0, responsesSent: 0, queriesSent: 0, suppressedByRateLimit: 0, encodeErrors: 0 };
  /** Go Micro's client reads one node per packet, so its profile sends one group per packet. */
  readonly #groupsPerPacket: number;

  constructor(transport: Transport, now: () => number, groupsPerPacket = Number.POSITIVE_INFINITY) {
    this.#transport = transport;
    this.#now = now;
    this.#groupsPerPacket = groupsPerPacket;
  }

  /** The clock the one-second rule is kept by: a caller that asks heldFor before multicastResponse passes both one reading. */
  now(): number {
    return this.#now();
  }

  /** Whether `rr` went out on `target` less than `withinMs` ago. */
  recentlyMulticast(rr: Rr, target: Target, withinMs: number, now = this.#now()): boolean {
    return this.heldFor([rr], target, withinMs, now) > 0;
  }

  /**
   * How long the rate limit holds back all of `records` on `target`: 0 when any of them may go now
   * (then what goes refreshes the others' holders anyway), else until the last of them may.
   */
  heldFor(records: readonly Rr[], target: Target, withinMs: number, now = this.#now()): number {
    let wait = 0;
    for (const rr of records) {
      const at = this.#last.get(`${recordKey(rr)}|${targetKey(target)}`);
      if (at === undefined || now - at >= withinMs) return 0;
      wait = Math.max(wait, at + withinMs - now);
    }
    return wait;
  }

  /** Whether we sent exactly this record (same data) in the last few seconds. */
  sentByUs(key: string, now = this.#now()): boolean {
    const at = this.#ours.get(key);
    return at !== undefined && now - at < OWN_ECHO_MS;
  }

  /**
   * Multicasts response groups on one interface, leaving out records sent there within
   * `rateLimitMs` (0: goodbyes). A group whose answers are all left out is not sent at all.
   */
  multicastResponse(groups: readonly RecordGroup[], target: Target, rateLimitMs = RATE_LIMIT_MS, now = this.#now()): void {
    const tk = targetKey(target);
    /** Each record's key, worked out once for the rate limit and kept for the stamps after the send. */
    const keys = new Map<Rr, string>();
    const kept: RecordGroup[] = [];
    for (const group of groups) {
      const fresh = (list: readonly Rr[] | undefined) =>
        (list ?? []).filter((r) => {
          const key = recordKey(r);
          keys.set(r, key);
          const last = rateLimitMs > 0 ? this.#last.get(`${key}|${tk}`) : undefined;
          const limited = last !== undefined && now - last < rateLimitMs;
          if (limited) this.stats.suppressedByRateLimit++;
          return !limited;
        });
      const answers = fresh(group.answers);
      if (answers.length > 0) kept.push({ answers, additionals: fresh(group.additionals) });
    }
    if (kept.length === 0) return;
    const packets = this.#encode(packResponses(kept, { maxGroupsPerPacket: this.#groupsPerPacket }));
    // Stamped once the packets are encoded, not before: the one-second rule is about the wire, and
    // a first encode (cold code, a busy machine) can take milliseconds. And stamped before they go,
    // so the send is the last thing this turn does: a peer on this host (on a shared core, the
    // kernel often runs it only once we yield) hears us without waiting for our bookkeeping.
    const at = this.#now();
    const stamp = (records: readonly Rr[]) => {
      for (const r of records) {
        const key = keys.get(r) ?? recordKey(r);
        this.#last.set(`${key}|${tk}`, at);
        this.#ours.set(key, at);
      }
    };
    for (const { message } of packets) {
      stamp(message.answers);
      stamp(message.additionals);
    }
    this.#prune(at);
    this.#count('responsesSent', packets.length);
    for (const { buf } of packets) this.#transport.multicast(buf, target.iface, target.family);
  }

  /** Unicast response groups to one querier (QU questions, legacy queries with `questions` echoed and `id` copied). */
  unicastResponse(
    groups: readonly RecordGroup[],
    address: string,
    port: number,
    options: { id?: number; questions?: readonly Question[] } = {},
  ): void {
    if (groups.length === 0) return;
    const packets = this.#encode(packResponses(groups, { ...options, maxGroupsPerPacket: this.#groupsPerPacket }));
    const now = this.#now();
    for (const { message } of packets) for (const r of [...message.answers, ...message.additionals]) this.#ours.set(recordKey(r), now);
    this.#count('responsesSent', packets.length);
    for (const { buf } of packets) this.#transport.unicast(buf, address, port);
  }

  /** A query (split with TC when its known answers need more packets) on every target. */
  query(questions: readonly Question[], knownAnswers: readonly Rr[], targets: readonly Target[], ephemeral: boolean): void {
    if (questions.length === 0) return;
    // Encoded once, sent on every target.
    const packets = this.#encode(packQuery(questions, knownAnswers));
    for (const t of targets) {
      this.#count('queriesSent', packets.length);
      for (const { buf } of packets) {
        if (ephemeral) void this.#transport.queryFromEphemeral(buf, t.iface, t.family);
        else this.#transport.multicast(buf, t.iface, t.family);
      }
    }
  }

  /** One prepared message (a probe) on one target. */
  send(message: Message, target: Target): void {
    const packets = this.#encode([message]);
    this.#count('queriesSent', packets.length);
    for (const { buf } of packets) this.#transport.multicast(buf, target.iface, target.family);
  }

  /** Resolves once every packet handed to the sockets so far has left (or failed): goodbyes await it. */
  flushed(): Promise<void> {
    return this.#transport.flushed();
  }

  /** The messages that encode, with their bytes; one that cannot be encoded is counted and skipped. */
  #encode(messages: readonly Message[]): Array<{ message: Message; buf: Buffer }> {
    const out: Array<{ message: Message; buf: Buffer }> = [];
    for (const message of messages) {
      try {
        out.push({ message, buf: encodeMessage(message) });
      } catch (error) {
        if (!(error instanceof PacketError)) throw error;
        this.stats.encodeErrors++;
      }
    }
    return out;
  }

  #count(counter: 'responsesSent' | 'queriesSent', packets: number): void {
    this.stats.packetsSent += packets;
    this.stats[counter] += packets;
  }

  /** Keeps the rate-limit memory bounded: entries older than the longest window are useless. */
  #prune(now: number): void {
    if (this.#last.size < 4096 && this.#ours.size < 4096) return;
    for (const [k, at] of this.#last) if (now - at >= RATE_LIMIT_MS) this.#last.delete(k);
    for (const [k, at] of this.#ours) if (now - at >= OWN_ECHO_MS) this.#ours.delete(k);
  }
}

/** Every (interface, family) mDNS runs on. */
export function targetsOf(interfaces: readonly NetInterface[], ipv6: boolean): Target[] {
  const out: Target[] = [];
  for (const iface of interfaces) {
    if (iface.v4.length > 0) out.push({ iface, family: 4 });
    if (ipv6 && iface.v6.length > 0) out.push({ iface, family: 6 });
  }
  return out;
}
