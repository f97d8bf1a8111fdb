/**
 * Go Micro's gossip registry payload: the protobuf message `gossip.Update` (go-micro plugins
 * `registry/gossip/proto/gossip.proto`), encoded and decoded by hand so no protobuf runtime is needed.
 *
 * Fields: 1 `expires` uint64 (unix ns), 2 `type` int32, 3 `action` int32, 6 `metadata`
 * map<string,string>, 7 `data` bytes (the JSON of the whole Service, see service-json.ts).
 * Decoding follows proto3 as Go's protobuf does: absent fields are zero, a repeated scalar keeps its
 * last value, unknown fields are skipped, strings must be UTF-8. Every failure is a {@link WireError}.
 * @module
 */
import { WireError } from '../wire/errors.js';

export { serviceFromGoJson, serviceToGoJson } from './service-json.js';

/** One registry update as Go Micro's gossip registry broadcasts it. */
export interface Update {
  /** Absolute expiry, unix nanoseconds on the sender's clock (0 = none). */
  expires: bigint;
  /** {@link UpdateType}; 1 = service. */
  type: number;
  /** {@link UpdateAction}. */
  action: number;
  /** Go Micro sends `{"Content-Type": "application/json"}`; rollcall adds its `x-rollcall-*` keys. */
  metadata: Record<string, string>;
  /** The JSON of the whole Service. When decoded, a view into the input bytes (not a copy). */
  data: Uint8Array;
}

/** `gossip.Update.action` values (Go Micro's `pb.Action`... constants in gossip.go). */
export const UpdateAction = Object.freeze({ create: 1, delete: 2, update: 3, sync: 4 } as const);

/** `gossip.Update.type` values; Go Micro only ever sends `service`. */
export const UpdateType = Object.freeze({ service: 1 } as const);

/** The metadata Go Micro puts on every update it sends. */
export const goMicroUpdateMetadata: Readonly<Record<string, string>> = Object.freeze({ 'Content-Type': 'application/json' });

/** Limits on what {@link decodeUpdate} accepts. */
export interface UpdateLimits {
  /** Whole encoded message, bytes. @default 4 MiB */
  maxBytes?: number;
  /** Metadata map entries. @default 64 */
  maxMetadataEntries?: number;
}

/** An update never needs more: a Service JSON over this is refused before it is parsed. */
export const MAX_UPDATE_BYTES = 4 * 1024 * 1024;
/** Go Micro sends one metadata entry, rollcall four; anything near 64 is hostile. */
export const MAX_UPDATE_METADATA_ENTRIES = 64;
/** Unknown groups (wire types 3/4) are skipped to this nesting depth, as Go's protowire limits recursion. */
const MAX_GROUP_DEPTH = 32;

const TAG_EXPIRES = 0x08; // field 1, varint
const TAG_TYPE = 0x10; // field 2, varint
const TAG_ACTION = 0x18; // field 3, varint
const TAG_METADATA = 0x32; // field 6, length-delimited
const TAG_DATA = 0x3a; // field 7, length-delimited
const TAG_ENTRY_KEY = 0x0a; // map entry field 1
const TAG_ENTRY_VALUE = 0x12; // map entry field 2

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UINT64_MAX = (1n << 64n) - 1n;

// --- Encoding ---

/**
 * Encodes an update with Go's field order (1, 2, 3, 6, 7), proto3 zero values left out and map
 * entries sorted by key (Go's deterministic order). Throws RangeError on values outside their types.
 */
export function encodeUpdate(u: Update): Uint8Array {
  if (typeof u.expires !== 'bigint' || u.expires < 0n || u.expires > UINT64_MAX)
    throw new RangeError('Update.expires must be a uint64 bigint');
  checkInt32(u.type, 'type');
  checkInt32(u.action, 'action');
  const entries = Object.keys(u.metadata)
    .sort(compareUtf8)
    .map((key) => [utf8.encode(key), utf8.encode(u.metadata[key] as string)] as const);
  let size = 0;
  if (u.expires !== 0n) size += 1 + varintSize(u.expires);
  if (u.type !== 0) size += 1 + varintSize(int32Varint(u.type));
  if (u.action !== 0) size += 1 + varintSize(int32Varint(u.action));
  for (const [k, v] of entries) {
    const inner = entrySize(k, v);
    size += 1 + varintSize(BigInt(inner)) + inner;
  }
  if (u.data.length > 0) size += 1 + varintSize(BigInt(u.data.length)) + u.data.length;

  const out = new Uint8Array(size);
  let at = 0;
  const byte = (b: number) => {
    out[at++] = b;
  };
  const varint = (value: bigint | number) => {
    let v = BigInt(value);
    while (v >= 0x80n) {
      out[at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    out[at++] = Number(v);
  };
  const bytes = (tag: number, b: Uint8Array) => {
    byte(tag);
    varint(b.length);
    out.set(b, at);
    at += b.length;
  };
  if (u.expires !== 0n) {
    byte(TAG_EXPIRES);
    varint(u.expires);
  }
  if (u.type !== 0) {
    byte(TAG_TYPE);
    varint(int32Varint(u.type));
  }
  if (u.action !== 0) {
    byte(TAG_ACTION);
    varint(int32Varint(u.action));
  }
  for (const [k, v] of entries) {
    byte(TAG_METADATA);
    varint(entrySize(k, v));
    // Go writes key and value even when empty, inside a map entry.
    bytes(TAG_ENTRY_KEY, k);
    bytes(TAG_ENTRY_VALUE, v);
  }
  if (u.data.length > 0) bytes(TAG_DATA, u.data);
  return out;
}

function entrySize(k: Uint8Array, v: Uint8Array): number {
  return 2 + varintSize(BigInt(k.length)) + k.length + varintSize(BigInt(v.length)) + v.length;
}

function checkInt32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`Update.${field} must be an int32`);
}

/** A negative int32 is written as its 64-bit two's complement, ten bytes, as protobuf requires. */
function int32Varint(value: number): bigint {
  return value < 0 ? BigInt(value) + (1n << 64n) : BigInt(value);
}

function varintSize(value: bigint): number {
  let n = 1;
  let v = value;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// --- Decoding ---

/** A cursor over protobuf bytes; every read checks the bytes present first. */
class Reader {
  at = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly end: number,
  ) {}

  /** A varint of at most ten bytes, as protowire.ConsumeVarint accepts (10th byte <= 1). */
  varint(): bigint {
    let low = 0;
    let shift = 0;
    // The first four bytes fit a 32-bit number: small values never touch bigint.
    for (let i = 0; i < 4; i++) {
      if (this.at >= this.end) throw new WireError('truncated', 'gossip update: varint runs past the end');
      const b = this.bytes[this.at++] as number;
      low += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return BigInt(low);
      shift += 7;
    }
    let value = BigInt(low);
    for (let i = 4; i < 10; i++) {
      if (this.at >= this.end) throw new WireError('truncated', 'gossip update: varint runs past the end');
      const b = this.bytes[this.at++] as number;
      if (i === 9 && b > 1) throw new WireError('malformed', 'gossip update: varint overflows 64 bits');
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return value;
    }
    throw new WireError('malformed', 'gossip update: varint longer than 10 bytes');
  }

  /** A small varint (tag or length); over 2^31 it is refused rather than turned into a number. */
  small(what: string): number {
    const v = this.varint();
    if (v > 0x7fffffffn) throw new WireError('limit', `gossip update: ${what} ${v} is too large`);
    return Number(v);
  }

  /** The bounds of a length-delimited field, checked against the bytes present. */
  span(what: string): [number, number] {
    const length = this.small(`${what} length`);
    if (length > this.end - this.at) throw new WireError('truncated', `gossip update: ${what} of ${length} bytes runs past the end`);
    const start = this.at;
    this.at += length;
    return [start, this.at];
  }

  /** Skips one value of an unknown field, groups included (bounded depth). */
  skip(tag: number): void {
    const wireType = tag & 7;
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.fixed(8);
    else if (wireType === 2) this.span('unknown field');
    else if (wireType === 5) this.fixed(4);
    else if (wireType === 3) this.skipGroup(tag >>> 3);
    else throw new WireError('malformed', `gossip update: wire type ${wireType} where a field starts`);
  }

  private fixed(n: number): void {
    if (n > this.end - this.at) throw new WireError('truncated', 'gossip update: fixed-size field runs past the end');
    this.at += n;
  }

  private skipGroup(field: number): void {
    const open = [field];
    while (open.length > 0) {
      const tag = this.small('tag');
      const wireType = tag & 7;
      if (wireType === 4) {
        if (tag >>> 3 !== open.pop()) throw new WireError('malformed', 'gossip update: group end does not match its start');
      } else if (wireType === 3) {
        if (open.length >= MAX_GROUP_DEPTH) throw new WireError('limit', `gossip update: groups nest deeper than ${MAX_GROUP_DEPTH}`);
        open.push(tag >>> 3);
      } else this.skip(tag);
    }
  }
}

/**
 * Decodes a `gossip.Update`. Throws {@link WireError} (`truncated`, `limit` or `malformed`) on bad
 * input; allocates nothing larger than the input, and `data` is a view into it.
 */
export function decodeUpdate(bytes: Uint8Array, limits: UpdateLimits = {}): Update {
  const maxBytes = limits.maxBytes ?? MAX_UPDATE_BYTES;
  const maxEntries = limits.maxMetadataEntries ?? MAX_UPDATE_METADATA_ENTRIES;
  if (bytes.length > maxBytes) throw new WireError('limit', `gossip update of ${bytes.length} bytes is over the limit of ${maxBytes}`);
  const r = new Reader(bytes, bytes.length);
  const update: Update = { expires: 0n, type: 0, action: 0, metadata: {}, data: new Uint8Array(0) };
  let entries = 0;
  while (r.at < r.end) {
    const tag = r.small('tag');
    if (tag >>> 3 === 0) throw new WireError('malformed', 'gossip update: field number 0');
    switch (tag) {
      case TAG_EXPIRES:
        update.expires = r.varint();
        break;
      case TAG_TYPE:
        update.type = int32Of(r.varint());
        break;
      case TAG_ACTION:
        update.action = int32Of(r.varint());
        break;
      case TAG_METADATA: {
        const [start, end] = r.span('metadata entry');
        if (++entries > maxEntries) throw new WireError('limit', `gossip update: more than ${maxEntries} metadata entries`);
        const [key, value] = decodeEntry(bytes, start, end);
        // A key like "__proto__" must become an own property, not a prototype change.
        Object.defineProperty(update.metadata, key, { value, enumerable: true, writable: true, configurable: true });
        break;
      }
      case TAG_DATA: {
        const [start, end] = r.span('data');
        update.data = bytes.subarray(start, end);
        break;
      }
      default:
        // Unknown fields, and known ones with another wire type, are skipped as Go's protobuf does.
        r.skip(tag);
    }
  }
  return update;
}

/** A map entry: key field 1, value field 2, either may be absent (= ""), unknown fields skipped. */
function decodeEntry(bytes: Uint8Array, start: number, end: number): [string, string] {
  const r = new Reader(bytes, end);
  r.at = start;
  let key = '';
  let value = '';
  while (r.at < r.end) {
    const tag = r.small('tag');
    if (tag >>> 3 === 0) throw new WireError('malformed', 'gossip update: field number 0 in a metadata entry');
    if (tag === TAG_ENTRY_KEY) key = text(bytes, r.span('metadata key'));
    else if (tag === TAG_ENTRY_VALUE) value = text(bytes, r.span('metadata value'));
    else r.skip(tag);
  }
  return [key, value];
}

/** proto3 strings are UTF-8; Go's protobuf refuses anything else, and so do we. */
function text(bytes: Uint8Array, [start, end]: [number, number]): string {
  try {
    return strictUtf8.decode(bytes.subarray(start, end));
  } catch {
    throw new WireError('malformed', 'gossip update: metadata string is not UTF-8');
  }
}

/** An int32 field keeps the low 32 bits of whatever varint carried it, as Go's decoder does. */
function int32Of(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

// --- rollcall's own metadata ---

/**
 * Key of rollcall's stamp in `Update.metadata` (Go Micro ignores unknown keys). One entry for every
 * field, because each map entry costs its key's bytes on every copy of every update: six named
 * entries took 183 bytes of a 424-byte update, this one about 50.
 */
export const STAMP_KEY = 'x-rc';

/** What rollcall adds to an update beyond Go Micro's fields. */
export interface RollcallStamp {
  /** The memberlist member name of the node that registered the service. */
  origin: string;
  /** Per-origin sequence number, increasing with every update that origin sends. */
  seq: bigint;
  /** Time to live in milliseconds from receipt. */
  ttlMs: number;
  /** Hybrid logical time of the registration: the highest claim owns a node id. */
  claim?: number | undefined;
  /** The origin's sequence of its change before this one: receivers apply an origin's changes in order. */
  prev?: number | undefined;
  /** The origin's SWIM incarnation when it sent this: tells an update of a later life from a dead one's. */
  incarnation?: number | undefined;
}

const base36 = (n: number | undefined) => (n === undefined ? '' : n.toString(36));

/**
 * Go Micro's metadata plus a rollcall stamp: `seq.ttl.claim.prev.incarnation.origin`, numbers in
 * lower-case base 36 without leading zeros, an absent one empty, the origin last so a member name
 * may hold any character (dots included).
 */
export function stampMetadata(
  stamp: RollcallStamp,
  base: Readonly<Record<string, string>> = goMicroUpdateMetadata,
): Record<string, string> {
  if (stamp.origin.length === 0 || stamp.origin.length > MAX_ORIGIN_LENGTH) throw new RangeError('stamp origin must be 1..512 characters');
  if (stamp.seq < 0n || stamp.seq > UINT64_MAX) throw new RangeError('stamp seq must be a uint64');
  for (const [name, v] of [
    ['ttlMs', stamp.ttlMs],
    ['claim', stamp.claim],
    ['prev', stamp.prev],
    ['incarnation', stamp.incarnation],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new RangeError(`stamp ${name} must be a non-negative safe integer`);
  }
  const fields = [stamp.seq.toString(36), base36(stamp.ttlMs), base36(stamp.claim), base36(stamp.prev), base36(stamp.incarnation)];
  return { ...base, [STAMP_KEY]: `${fields.join('.')}.${stamp.origin}` };
}

const MAX_ORIGIN_LENGTH = 512;
/** Canonical base 36: no sign, no leading zero. 13 digits hold a uint64. */
const BASE36 = /^(0|[1-9a-z][0-9a-z]{0,12})$/;

function parseBase36(text: string): bigint {
  let v = 0n;
  for (const ch of text) v = v * 36n + BigInt(Number.parseInt(ch, 36));
  return v;
}

/**
 * The rollcall stamp of an update, or `undefined` when it carries none (an update from Go Micro).
 * A stamp that is present but malformed throws {@link WireError} `malformed`.
 */
export function readStamp(metadata: Readonly<Record<string, string>>): RollcallStamp | undefined {
  const text = Object.hasOwn(metadata, STAMP_KEY) ? metadata[STAMP_KEY] : undefined;
  if (text === undefined) return undefined;
  const bad = (why: string): never => {
    throw new WireError('malformed', `gossip update: ${STAMP_KEY} ${why}`);
  };
  const fields: string[] = [];
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const dot = text.indexOf('.', at);
    if (dot < 0) bad('has fewer than six fields');
    fields.push(text.slice(at, dot));
    at = dot + 1;
  }
  const origin = text.slice(at);
  if (origin.length === 0 || origin.length > MAX_ORIGIN_LENGTH) bad('origin missing or longer than 512');
  const [seqText = '', ttlText = '', ...rest] = fields;
  if (!BASE36.test(seqText)) bad('sequence is not canonical base 36');
  const seq = parseBase36(seqText);
  if (seq > UINT64_MAX) bad('sequence exceeds a uint64');
  const number = (field: string, what: string, required: boolean): number | undefined => {
    if (field === '' && !required) return undefined;
    if (!BASE36.test(field)) bad(`${what} is not canonical base 36`);
    const n = Number(parseBase36(field));
    if (!Number.isSafeInteger(n)) bad(`${what} exceeds 2^53`);
    return n;
  };
  const ttlMs = number(ttlText, 'ttl', true) as number;
  const [claim, prev, incarnation] = [
    number(rest[0] ?? '', 'claim', false),
    number(rest[1] ?? '', 'prev', false),
    number(rest[2] ?? '', 'incarnation', false),
  ];
  return { origin, seq, ttlMs, claim, prev, incarnation };
}
