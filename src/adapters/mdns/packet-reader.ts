/**
 * Reading mDNS packets: one pass from the datagram to validated {@link Message} records, or a
 * reason to drop it. Never throws.
 *
 * Receiving is the browser's hot path, and every packet on the link passes through it, so the
 * reader does only what rollcall uses:
 *
 * - records of types rollcall does not use (NSEC, HINFO, OPT, ...) and of classes other than IN
 *   are skipped by their length, never decoded;
 * - a name's labels are joined as bytes and become one string (Latin-1 when all ASCII, else
 *   UTF-8, replacement characters and all); each record carries its owner name folded
 *   (names.ts), so nothing downstream folds it again, and a name already folded is not copied;
 * - a TXT record keeps its rdata as Latin-1 text, which is its identity in the cache and what
 *   the codecs read, beside the strings as buffers;
 * - compression pointers must point backwards from where the current run of labels began
 *   (RFC 1035 §4.1.4), so no packet can make the reader loop; names stop at 255 bytes.
 *
 * Encoding stays with dns-packet (see packet.ts).
 * @module
 */
import { foldName } from './names.js';
import type { Message, Question, Rr, RrType, SrvData } from './packet.js';

const HEADER_BYTES = 12;
/** A packet with more records than this is hostile or broken. */
const MAX_RECORDS = 512;
/** RFC 1035 §2.3.4: a name is at most 255 bytes on the wire, the final zero byte included. */
const MAX_NAME_WIRE_BYTES = 255;
const QR = 0x8000;
const TC = 0x0200;
const CLASS_MASK = 0x7fff;
/** The top bit of a question's class is QU (RFC 6762 §5.4), of a record's the cache-flush bit (§10.2). */
const TOP_BIT = 0x8000;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const DOT = 0x2e;
/**
 * The longest TTL a received record keeps, in seconds: 4500 s (75 minutes) is the longest RFC 6762
 * §10 gives any record, and a longer one only lets a record outlive its owner (live records are
 * re-queried at 80 % of their TTL anyway). Uncapped, a TTL of 0xffffffff s is a timer delay Node
 * cannot honour, and a record nobody can expire.
 */
export const MAX_RECEIVED_TTL = 4500;

/** The record types rollcall reads; every other type is skipped. */
const RECORD_TYPES: Readonly<Record<number, RrType>> = { 1: 'A', 12: 'PTR', 16: 'TXT', 28: 'AAAA', 33: 'SRV' };
/** Question types by name as the responder compares them; others are named as RFC 3597 writes them. */
const QUESTION_TYPES: Readonly<Record<number, string>> = { ...RECORD_TYPES, 255: 'ANY' };

/** A record read off the wire: always with its folded owner name, and a TXT with its rdata as Latin-1. */
interface WireRr extends Rr {
  readonly fname: string;
}

/** The cursor over one packet: its bytes, where reading stands, and a fact about the name read last. */
interface Cursor {
  readonly buf: Buffer;
  pos: number;
  /** Whether the name read last is its own folded form (see {@link foldName}). */
  folded: boolean;
}

/** Reads one datagram. Returns the message, or why it is not one we take (a drop reason). */
export function readMessage(buf: Buffer): Message | string {
  if (buf.length < HEADER_BYTES) return 'truncated header';
  const flags = buf.readUInt16BE(2);
  // RFC 6762 §18.3 and §18.11: other opcodes and non-zero rcodes are silently ignored.
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return `opcode ${opcode}`;
  const rcode = flags & 0xf;
  if (rcode !== 0) return `rcode ${rcode}`;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd + an + ns + ar > MAX_RECORDS) return 'too many records';
  const cursor: Cursor = { buf, pos: HEADER_BYTES, folded: false };
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const name = readName(cursor);
    if (name === undefined || cursor.pos + 4 > buf.length) return 'malformed question';
    const type = buf.readUInt16BE(cursor.pos);
    const klass = buf.readUInt16BE(cursor.pos + 2);
    cursor.pos += 4;
    const base = klass & CLASS_MASK;
    // A question of another class is legal and simply not ours.
    if (base === CLASS_IN || base === CLASS_ANY)
      questions.push({ name, type: QUESTION_TYPES[type] ?? `TYPE${type}`, qu: (klass & TOP_BIT) !== 0 });
  }
  const answers = readRecords(cursor, an);
  if (typeof answers === 'string') return answers;
  const authorities = readRecords(cursor, ns);
  if (typeof authorities === 'string') return authorities;
  const additionals = readRecords(cursor, ar);
  if (typeof additionals === 'string') return additionals;
  return { id: buf.readUInt16BE(0), response: (flags & QR) !== 0, tc: (flags & TC) !== 0, questions, answers, authorities, additionals };
}

function readRecords(cursor: Cursor, count: number): WireRr[] | string {
  const out: WireRr[] = [];
  const buf = cursor.buf;
  for (let i = 0; i < count; i++) {
    const name = readName(cursor);
    const at = cursor.pos;
    if (name === undefined || at + 10 > buf.length) return 'malformed record';
    const fname = cursor.folded ? name : foldName(name);
    const typeCode = buf.readUInt16BE(at);
    const klass = buf.readUInt16BE(at + 2);
    const ttl = Math.min(buf.readUInt32BE(at + 4), MAX_RECEIVED_TTL);
    const start = at + 10;
    const end = start + buf.readUInt16BE(at + 8);
    if (end > buf.length) return 'malformed record';
    cursor.pos = end;
    const type = RECORD_TYPES[typeCode];
    // Types we do not use and other classes are legal and simply not ours (OPT's class is a size).
    if (type === undefined || (klass & CLASS_MASK) !== CLASS_IN) continue;
    let data: Rr['data'];
    let latin1: string | undefined;
    switch (type) {
      case 'A':
        if (end - start !== 4) return 'malformed A data';
        data = `${buf[start]}.${buf[start + 1]}.${buf[start + 2]}.${buf[start + 3]}`;
        break;
      case 'AAAA':
        if (end - start !== 16) return 'malformed AAAA data';
        data = ipv6Text(buf, start);
        break;
      case 'PTR': {
        const target = readNameIn(cursor, start, end);
        if (target === undefined) return 'malformed PTR data';
        data = target;
        break;
      }
      case 'SRV': {
        if (end - start < 7) return 'malformed SRV data';
        const target = readNameIn(cursor, start + 6, end);
        if (target === undefined) return 'malformed SRV data';
        data = {
          priority: buf.readUInt16BE(start),
          weight: buf.readUInt16BE(start + 2),
          port: buf.readUInt16BE(start + 4),
          target,
        } satisfies SrvData;
        break;
      }
      case 'TXT': {
        const strings: Buffer[] = [];
        for (let p = start; p < end; ) {
          const next = p + 1 + (buf[p] as number);
          if (next > end) return 'malformed TXT data';
          strings.push(buf.subarray(p + 1, next));
          p = next;
        }
        data = strings;
        latin1 = buf.toString('latin1', start, end);
        break;
      }
    }
    out.push({ name, fname, type, ttl, flush: (klass & TOP_BIT) !== 0, data, latin1 });
  }
  return out;
}

/** A name inside rdata [start, end): it must end there, not run past it. Leaves the cursor where it was. */
function readNameIn(cursor: Cursor, start: number, end: number): string | undefined {
  const saved = cursor.pos;
  cursor.pos = start;
  const name = readName(cursor);
  const past = cursor.pos > end;
  cursor.pos = saved;
  return past ? undefined : name;
}

/**
 * Where a name's labels are joined before it becomes a string: a name is at most 255 bytes on
 * the wire, and in the dotted form (a dot for each length byte but the first) never longer.
 * Joining bytes and making one string of them allocates that string alone; slicing and
 * concatenating labels would allocate a string per label and one per join, and the receive path
 * mostly runs unoptimized (a packet every few hundred milliseconds), where every such object is
 * heap the process touches fresh.
 */
const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE_BYTES);

/**
 * Reads the name at the cursor and moves past it, setting `cursor.folded` to whether the name is
 * already in folded form (no A-Z, no trailing dot). Undefined when the name is malformed: running
 * off the packet, a pointer that does not point back, a reserved label type, or over 255 bytes.
 */
function readName(cursor: Cursor): string | undefined {
  const buf = cursor.buf;
  let pos = cursor.pos;
  /** Where the current run of labels began: a pointer must point before it. */
  let runStart = pos;
  /** Where reading resumes after the name: set at the first pointer. */
  let after = -1;
  let wire = 1;
  let length = 0;
  let ascii = true;
  let upper = false;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos] as number;
    if (len === 0) {
      pos++;
      break;
    }
    if (len >= 0xc0) {
      if (pos + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | (buf[pos + 1] as number);
      if (target >= runStart) return undefined;
      if (after < 0) after = pos + 2;
      pos = runStart = target;
      continue;
    }
    // 0x40 and 0x80 are the extended and reserved label types (RFC 6891, RFC 2673): not in mDNS.
    if (len > 63) return undefined;
    const to = pos + 1 + len;
    wire += len + 1;
    if (to > buf.length || wire > MAX_NAME_WIRE_BYTES) return undefined;
    if (length > 0) scratch[length++] = DOT;
    for (let i = pos + 1; i < to; i++) {
      const byte = buf[i] as number;
      if (byte >= 0x80) ascii = false;
      else if (byte >= 0x41 && byte <= 0x5a) upper = true;
      scratch[length++] = byte;
    }
    pos = to;
  }
  cursor.pos = after < 0 ? pos : after;
  // The root: dns-packet and most DNS libraries write it as a lone dot.
  if (length === 0) {
    cursor.folded = false;
    return '.';
  }
  cursor.folded = !upper && scratch[length - 1] !== DOT;
  // A label with other bytes is UTF-8, replacement characters and all. Decoding the joined name
  // at once gives what decoding label by label would: a dot always ends a broken sequence.
  return scratch.toString(ascii ? 'latin1' : 'utf8', 0, length);
}

/** An IPv6 address in RFC 5952 form: lowercase, no leading zeros, the longest run of zero groups as `::`. */
export function ipv6Text(buf: Buffer, at: number): string {
  const groups: number[] = [];
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const group = ((buf[at + 2 * i] as number) << 8) | (buf[at + 2 * i + 1] as number);
    groups.push(group);
    if (group !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = i;
    if (i - runStart + 1 > bestLength) {
      bestStart = runStart;
      bestLength = i - runStart + 1;
    }
  }
  // RFC 5952 §5: an IPv4-mapped address ends in dotted decimal.
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) {
    return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
