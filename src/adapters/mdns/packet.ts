/**
 * mDNS messages: the record shapes rollcall uses; encoding over dns-packet that refuses what the
 * wire cannot carry and sets the bit dns-packet cannot express (the QU bit of RFC 6762 §5.4);
 * packing records into packets; record identity; and the §8.2 tie-break order. Reading packets
 * is packet-reader.ts.
 * @module
 */
import { createRequire } from 'node:module';
import { joinKey } from '../../internal/keys.js';
import { foldName, nameProblem } from './names.js';

const require = createRequire(import.meta.url);
// dns-packet is multicast-dns's codec; resolving it from there keeps one copy and the version multicast-dns was built on.
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as DnsPacketLib;

interface DnsPacketLib {
  encode(message: object): Buffer;
  encodingLength(message: object): number;
  answer: { encodingLength(answer: object): number };
  question: { encodingLength(question: object): number };
  name: { encodingLength(name: string): number };
  record(type: string): { encode(data: unknown): Buffer };
  AUTHORITATIVE_ANSWER: number;
  TRUNCATED_RESPONSE: number;
}

export type RrType = 'A' | 'AAAA' | 'PTR' | 'SRV' | 'TXT';
export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}
export type RrData = string | SrvData | readonly Buffer[];

/** A resource record; `flush` is the cache-flush bit of unique records (RFC 6762 §10.2). */
export interface Rr {
  readonly name: string;
  /** The owner name folded for comparison, computed once for records read off the wire. */
  readonly fname?: string;
  readonly type: RrType;
  readonly ttl: number;
  readonly flush: boolean;
  readonly data: RrData;
  /**
   * A TXT record read off the wire keeps its rdata as one Latin-1 char per byte (length bytes
   * included): its identity ({@link rdataKey}) and what the codecs read, without a second pass
   * over the buffers.
   */
  readonly latin1?: string;
}

export interface Question {
  readonly name: string;
  /** A record type, or `ANY`. */
  readonly type: string;
  /** Unicast response requested (RFC 6762 §5.4). */
  readonly qu: boolean;
}

export interface Message {
  readonly id: number;
  readonly response: boolean;
  /** Truncated: a query whose known answers continue in the next packets (RFC 6762 §7.2). */
  readonly tc: boolean;
  readonly questions: readonly Question[];
  readonly answers: readonly Rr[];
  readonly authorities: readonly Rr[];
  readonly additionals: readonly Rr[];
}

/** RFC 6762 §17: a host may receive up to 9000 bytes; anything larger is not mDNS. */
export const MAX_RECEIVE_BYTES = 9000;
/** What one packet of ours may hold: an Ethernet MTU less IPv6 and UDP headers, with room to spare. */
export const PACKET_BUDGET = 1400;

/** Raised for what cannot be encoded; callers validate first, so this only guards against bugs. */
export class PacketError extends Error {}

// --- Encoding ---

function checkName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new PacketError(`name ${JSON.stringify(name)} ${problem}`);
}

function toWire(rr: Rr): object {
  checkName(rr.name);
  if (rr.type === 'PTR') checkName(rr.data as string);
  if (rr.type === 'SRV') checkName((rr.data as SrvData).target);
  let data: unknown = rr.data;
  if (rr.type === 'TXT') {
    // dns-packet writes a string's length into one byte without checking; and it mutates the array it is given.
    const strings = rr.data as readonly Buffer[];
    for (const s of strings) if (s.length > 255) throw new PacketError(`TXT string of ${s.length} bytes, over 255`);
    data = [...strings];
  }
  return { name: rr.name, type: rr.type, class: 'IN', ttl: rr.ttl, flush: rr.flush, data };
}

/** Encodes a message; throws {@link PacketError} for names or strings the wire cannot carry. */
export function encodeMessage(message: Message): Buffer {
  for (const q of message.questions) checkName(q.name);
  let flags = message.response ? dnsPacket.AUTHORITATIVE_ANSWER : 0;
  if (message.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
  const buf = dnsPacket.encode({
    id: message.id,
    type: message.response ? 'response' : 'query',
    flags,
    questions: message.questions.map((q) => ({ name: q.name, type: q.type, class: 'IN' })),
    answers: message.answers.map(toWire),
    authorities: message.authorities.map(toWire),
    additionals: message.additionals.map(toWire),
  });
  // dns-packet never compresses names, so each question sits at a computable offset: set the QU bit there.
  let offset = 12;
  for (const q of message.questions) {
    offset += dnsPacket.name.encodingLength(q.name);
    if (q.qu) buf[offset + 2] = (buf[offset + 2] as number) | 0x80;
    offset += 4;
  }
  return buf;
}

const HEADER_BYTES = 12;

export function recordBytes(rr: Rr): number {
  return dnsPacket.answer.encodingLength(toWire(rr));
}

export function questionBytes(q: Question): number {
  return dnsPacket.question.encodingLength({ name: q.name, type: q.type, class: 'IN' });
}

/** Records that must travel in one packet: a node's PTR with its SRV, TXT and addresses. */
export interface RecordGroup {
  readonly answers: readonly Rr[];
  readonly additionals?: readonly Rr[];
  /** False once the records' owner is gone: a delayed answer must not outlive a goodbye. */
  readonly current?: () => boolean;
}

/**
 * Packs groups of records into responses of at most `budget` bytes, never splitting a group
 * and never repeating a record within a packet. A group larger than the budget gets a packet of
 * its own (registration refuses such groups up front, so only foreign-sized data gets here).
 */
export function packResponses(
  groups: readonly RecordGroup[],
  options: { id?: number; questions?: readonly Question[]; budget?: number; maxGroupsPerPacket?: number } = {},
): Message[] {
  const budget = options.budget ?? PACKET_BUDGET;
  const questions = options.questions ?? [];
  const base = HEADER_BYTES + questions.reduce((n, q) => n + questionBytes(q), 0);
  const out: Message[] = [];
  let answers: Rr[] = [];
  let additionals: Rr[] = [];
  let keys = new Set<string>();
  let size = base;
  let count = 0;
  const flush = () => {
    if (answers.length + additionals.length === 0) return;
    out.push({ id: options.id ?? 0, response: true, tc: false, questions, answers, authorities: [], additionals });
    answers = [];
    additionals = [];
    keys = new Set();
    size = base;
    count = 0;
  };
  const prepare = (group: RecordGroup) => {
    const seen = new Set(keys);
    const pick = (list: readonly Rr[] | undefined) =>
      (list ?? []).filter((r) => {
        const key = recordKey(r);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    const adds = pick(group.answers);
    const extra = pick(group.additionals);
    return { adds, extra, seen, bytes: [...adds, ...extra].reduce((n, r) => n + recordBytes(r), 0) };
  };
  for (const group of groups) {
    let next = prepare(group);
    if (count > 0 && (size + next.bytes > budget || count >= (options.maxGroupsPerPacket ?? Number.POSITIVE_INFINITY))) {
      flush();
      next = prepare(group);
    }
    keys = next.seen;
    answers.push(...next.adds);
    additionals.push(...next.extra);
    size += next.bytes;
    count++;
  }
  flush();
  return out;
}

/**
 * A query in packets of at most `budget` bytes. Questions are split across as many queries as
 * they need (250 browse names are about 10 KB, more than a responder reads and than one datagram
 * may carry); each question's known answers (those under its name) travel with it, and known
 * answers beyond a query's first packet continue in packets of their own, TC set on all but the
 * last (RFC 6762 §7.2). Known answers under no question's name go with the first query.
 */
export function packQuery(questions: readonly Question[], knownAnswers: readonly Rr[], budget = PACKET_BUDGET): Message[] {
  const byName = new Map<string, Rr[]>();
  for (const q of questions) byName.set(foldName(q.name), []);
  const stray: Rr[] = [];
  for (const rr of knownAnswers) (byName.get(rr.fname ?? foldName(rr.name)) ?? stray).push(rr);
  const out: Message[] = [];
  let qs: Question[] = [];
  let known: Rr[] = [...stray];
  let size = HEADER_BYTES + stray.reduce((n, r) => n + recordBytes(r), 0);
  for (const q of questions) {
    const fname = foldName(q.name);
    const own = byName.get(fname) ?? [];
    // A name asked twice brings its known answers once.
    byName.set(fname, []);
    const bytes = questionBytes(q) + own.reduce((n, r) => n + recordBytes(r), 0);
    if (qs.length > 0 && size + bytes > budget) {
      out.push(...queryPackets(qs, known, budget));
      qs = [];
      known = [];
      size = HEADER_BYTES;
    }
    qs.push(q);
    known.push(...own);
    size += bytes;
  }
  out.push(...queryPackets(qs, known, budget));
  return out;
}

/** One query: its questions and the known answers that fit in the first packet, the rest in TC continuations. */
function queryPackets(questions: Question[], knownAnswers: readonly Rr[], budget: number): Message[] {
  const out: Message[] = [];
  let qs = questions;
  let answers: Rr[] = [];
  let size = HEADER_BYTES + qs.reduce((n, q) => n + questionBytes(q), 0);
  for (const rr of knownAnswers) {
    const bytes = recordBytes(rr);
    if ((answers.length > 0 || qs.length > 0) && size + bytes > budget) {
      out.push({ id: 0, response: false, tc: true, questions: qs, answers, authorities: [], additionals: [] });
      qs = [];
      answers = [];
      size = HEADER_BYTES;
    }
    answers.push(rr);
    size += bytes;
  }
  out.push({ id: 0, response: false, tc: false, questions: qs, answers, authorities: [], additionals: [] });
  return out;
}

// --- Identity and ordering ---

/** The record's data as a comparable string: equal keys mean the same rdata (names compared folded). */
export function rdataKey(rr: Pick<Rr, 'type' | 'data' | 'latin1'>): string {
  switch (rr.type) {
    case 'PTR':
      return foldName(rr.data as string);
    case 'SRV': {
      const s = rr.data as SrvData;
      return `${s.priority} ${s.weight} ${s.port} ${foldName(s.target)}`;
    }
    case 'TXT':
      return rr.latin1 ?? txtKey(rr.data as readonly Buffer[]);
    default:
      return (rr.data as string).toLowerCase();
  }
}

/** A TXT record's rdata as on the wire (a length byte before each string), one Latin-1 char per byte: exact, and cheaper than hex. */
export function txtKey(strings: readonly Buffer[]): string {
  let key = '';
  for (const s of strings) key += String.fromCharCode(s.length) + s.toString('latin1');
  return key;
}

/**
 * A TXT record's strings as Latin-1 text, one char per byte (what the codecs read): sliced from
 * its wire text when it was read off the wire, converted from its buffers otherwise.
 */
export function txtStrings(rr: Pick<Rr, 'data' | 'latin1'>): string[] {
  const wire = rr.latin1;
  if (wire === undefined) return (rr.data as readonly Buffer[]).map((s) => s.toString('latin1'));
  const out: string[] = [];
  for (let i = 0; i < wire.length; ) {
    const end = i + 1 + wire.charCodeAt(i);
    out.push(wire.slice(i + 1, end));
    i = end;
  }
  return out;
}

/** Name, type and rdata: what makes two records "the same record" (TTL and flush aside). */
export function recordKey(rr: Pick<Rr, 'name' | 'fname' | 'type' | 'data' | 'latin1'>): string {
  return joinKey(rr.fname ?? foldName(rr.name), String(rr.type), rdataKey(rr));
}

/** The raw uncompressed rdata, as RFC 6762 §8.2 compares it. */
export function rdataBytes(rr: Pick<Rr, 'type' | 'data'>): Buffer {
  const data = rr.type === 'TXT' ? [...(rr.data as readonly Buffer[])] : rr.data;
  return dnsPacket.record(rr.type).encode(data).subarray(2);
}

const TYPE_CODES: Record<RrType, number> = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33 };

/**
 * RFC 6762 §8.2 simultaneous-probe tie-break: both sets sorted by class, type and raw rdata, then
 * compared record by record; the first difference decides and a set that runs out first is the
 * smaller. Negative when `ours` is lexicographically earlier (we lose), 0 when identical.
 */
export function compareForTieBreak(ours: readonly Rr[], theirs: readonly Rr[]): number {
  const sortKey = (rr: Rr): [number, Buffer] => [TYPE_CODES[rr.type], rdataBytes(rr)];
  const order = (a: [number, Buffer], b: [number, Buffer]) => a[0] - b[0] || Buffer.compare(a[1], b[1]);
  const a = ours.map(sortKey).sort(order);
  const b = theirs.map(sortKey).sort(order);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = order(a[i] as [number, Buffer], b[i] as [number, Buffer]);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}
