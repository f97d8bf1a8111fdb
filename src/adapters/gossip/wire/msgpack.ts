/**
 * The msgpack dialect of hashicorp/go-msgpack as memberlist configures it (`WriteExt = false`).
 *
 * Writing follows go-msgpack 0.5.x byte for byte: strings and byte slices are both old-spec raw
 * (`a0..bf`, `da`, `db`; never `d9` or `c4..c6`), and every non-negative integer takes the
 * smallest unsigned form. Reading accepts what any go-msgpack writes: both integer families (0.5
 * writes `int` fields as uint, v2 as int16/32/64), str8 and bin beside raw, nil for a zero value.
 * Every length is checked against the bytes actually present before it is used, so no input can
 * make the reader allocate or loop for more than it holds.
 *
 * No npm msgpack library is used: @msgpack/msgpack writes str8 and bin (Go 0.5 writes raw 16 for
 * a 32-byte name and raw for byte slices) and decodes raw as UTF-8 text, which corrupts the binary
 * Addr, Meta and Vsn fields unless every field is post-processed; see bench/gossip/wire.bench.ts.
 * @module
 */
import { WireError } from './errors.js';
import { MAX_MSGPACK_DEPTH } from './limits.js';

const NIL = 0xc0;
const FALSE = 0xc2;
const TRUE = 0xc3;
const UINT8 = 0xcc;
const UINT16 = 0xcd;
const UINT32 = 0xce;
const UINT64 = 0xcf;
const INT8 = 0xd0;
const INT16 = 0xd1;
const INT32 = 0xd2;
const INT64 = 0xd3;
const RAW16 = 0xda;
const RAW32 = 0xdb;
const MAP16 = 0xde;
const MAP32 = 0xdf;
const ARRAY16 = 0xdc;
const ARRAY32 = 0xdd;

const TWO_32 = 0x1_0000_0000;

/** A growing output buffer that writes Go's msgpack. */
export class MsgpackWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes the writer holds, written or not. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** One byte as is (a message type). */
  byte(b: number): this {
    this.room(1);
    this.buf[this.pos++] = b;
    return this;
  }

  /** Bytes as they are, with no msgpack header (pre-encoded keys, user payloads). */
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  nil(): this {
    return this.byte(NIL);
  }

  bool(v: boolean): this {
    return this.byte(v ? TRUE : FALSE);
  }

  /** A non-negative integer up to 2^53, in the smallest unsigned form (Go 0.5 for every int type). */
  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw new RangeError(`not an unsigned integer: ${v}`);
    this.room(9);
    const b = this.buf;
    if (v <= 0x7f) b[this.pos++] = v;
    else if (v <= 0xff) {
      b[this.pos++] = UINT8;
      b[this.pos++] = v;
    } else if (v <= 0xffff) {
      b[this.pos++] = UINT16;
      b.writeUInt16BE(v, this.pos);
      this.pos += 2;
    } else if (v < TWO_32) {
      b[this.pos++] = UINT32;
      b.writeUInt32BE(v, this.pos);
      this.pos += 4;
    } else {
      b[this.pos++] = UINT64;
      b.writeUInt32BE(Math.floor(v / TWO_32), this.pos);
      b.writeUInt32BE(v % TWO_32, this.pos + 4);
      this.pos += 8;
    }
    return this;
  }

  /** A uint64 (Serf's Lamport times) in the smallest unsigned form. */
  uint64(v: bigint): this {
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`not a uint64: ${v}`);
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) return this.uint(Number(v));
    this.room(9);
    this.buf[this.pos++] = UINT64;
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** A signed integer as Go 0.5 writes it: non-negative as uint, negative in the smallest signed form. */
  int(v: number): this {
    if (v >= 0) return this.uint(v);
    if (!Number.isInteger(v) || v < Number.MIN_SAFE_INTEGER) throw new RangeError(`not an integer: ${v}`);
    this.room(9);
    const b = this.buf;
    if (v >= -32) b[this.pos++] = v & 0xff;
    else if (v >= -0x80) {
      b[this.pos++] = INT8;
      b.writeInt8(v, this.pos++);
    } else if (v >= -0x8000) {
      b[this.pos++] = INT16;
      b.writeInt16BE(v, this.pos);
      this.pos += 2;
    } else if (v >= -0x8000_0000) {
      b[this.pos++] = INT32;
      b.writeInt32BE(v, this.pos);
      this.pos += 4;
    } else {
      b[this.pos++] = INT64;
      b.writeBigInt64BE(BigInt(v), this.pos);
      this.pos += 8;
    }
    return this;
  }

  private rawHeader(n: number): void {
    this.room(5);
    const b = this.buf;
    if (n < 32) b[this.pos++] = 0xa0 | n;
    else if (n <= 0xffff) {
      b[this.pos++] = RAW16;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = RAW32;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  /** A byte slice as old-spec raw. */
  raw(v: Uint8Array): this {
    this.rawHeader(v.length);
    return this.bytes(v);
  }

  /** A byte slice as raw, or nil when empty: Go holds an absent Meta or Payload as a nil slice. */
  rawOrNil(v: Uint8Array | undefined): this {
    return v === undefined || v.length === 0 ? this.nil() : this.raw(v);
  }

  /** A string as old-spec raw of its UTF-8 bytes. */
  str(v: string): this {
    const n = Buffer.byteLength(v, 'utf8');
    this.rawHeader(n);
    this.room(n);
    this.pos += this.buf.write(v, this.pos, n, 'utf8');
    return this;
  }

  mapHeader(n: number): this {
    return this.containerHeader(n, 0x80, MAP16, MAP32);
  }

  arrayHeader(n: number): this {
    return this.containerHeader(n, 0x90, ARRAY16, ARRAY32);
  }

  private containerHeader(n: number, fix: number, b16: number, b32: number): this {
    this.room(5);
    const b = this.buf;
    if (n < 16) b[this.pos++] = fix | n;
    else if (n <= 0xffff) {
      b[this.pos++] = b16;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = b32;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    return this;
  }

  /** A copy of what was written; the writer may be reused after {@link reset}. */
  toBytes(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  /** A view of what was written, valid until the next write. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }
}

/** The encoded form of a map key (or any short ASCII string), to write with {@link MsgpackWriter.bytes}. */
export function encodedKey(name: string): Uint8Array {
  return new MsgpackWriter(name.length + 5).str(name).toBytes();
}

function truncated(what: string): WireError {
  return new WireError('truncated', `msgpack: input ends inside ${what}`);
}

function malformed(what: string, byte: number): WireError {
  return new WireError('malformed', `msgpack: ${what} expected, found 0x${byte.toString(16).padStart(2, '0')}`);
}

const utf8 = new TextDecoder();

/** Text of `buf[start, end)`: short ASCII (every field name, most node names) without a native call. */
function text(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c > 0x7f) return utf8.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(buf.subarray(start, end));
}

/** A struct's fields for {@link MsgpackReader.field}: the encoded keys in Go's (sorted) order. */
export interface StructFields {
  /** `[raw header][name]` of each key, in the order Go writes them. */
  readonly keys: readonly Uint8Array[];
  readonly index: ReadonlyMap<string, number>;
}

/** Describes a struct by its Go field names, which must be given in Go's sorted order. */
export function structFields(names: readonly string[]): StructFields {
  return { keys: names.map(encodedKey), index: new Map(names.map((n, i) => [n, i])) };
}

/** Reads go-msgpack values from one complete buffer; every method throws {@link WireError} on bad input. */
export class MsgpackReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(input: Uint8Array, start = 0, end = input.length) {
    this.buf = input;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw truncated(what);
  }

  private u16(): number {
    const b = this.buf;
    const p = this.pos;
    this.pos += 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  private u32(): number {
    const v = readU32(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  private view(): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The next byte, not consumed. */
  peek(): number {
    this.need(1, 'a value');
    return this.buf[this.pos] as number;
  }

  private next(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  /** Consumes a nil and returns true, or returns false and consumes nothing. */
  nil(): boolean {
    if (this.pos < this.end && this.buf[this.pos] === NIL) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Entries of a map (nil reads as an empty map, as Go leaves the struct zero). */
  mapHeader(): number {
    const b = this.next('a map');
    if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
    return this.containerLength(b, MAP16, MAP32, 'map');
  }

  arrayHeader(): number {
    const b = this.next('an array');
    if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
    return this.containerLength(b, ARRAY16, ARRAY32, 'array');
  }

  private containerLength(b: number, b16: number, b32: number, what: string): number {
    let n: number;
    if (b === NIL) return 0;
    if (b === b16) {
      this.need(2, what);
      n = this.u16();
    } else if (b === b32) {
      this.need(4, what);
      n = this.u32();
    } else throw malformed(what, b);
    // Every entry takes at least one byte: a count the input cannot hold is a lie, caught before any loop.
    if (n > this.end - this.pos) throw truncated(what);
    return n;
  }

  /**
   * The next map key as an index into `fields`, or -1 for a key the struct does not have (its
   * value is then still to be skipped). `expect` is the field Go writes next: its encoded key is
   * compared byte for byte first, so Go's own messages decode without building key strings.
   */
  field(fields: StructFields, expect: number): number {
    const k = fields.keys[expect];
    if (k !== undefined && this.end - this.pos >= k.length) {
      const b = this.buf;
      const p = this.pos;
      let i = 0;
      while (i < k.length && b[p + i] === k[i]) i++;
      if (i === k.length) {
        this.pos += k.length;
        return expect;
      }
    }
    return fields.index.get(this.key()) ?? -1;
  }

  /** Length of the raw/str/bin at the cursor, header consumed; -1 for nil. */
  private bytesLength(): number {
    const b = this.next('a string');
    let n: number;
    if (b >= 0xa0 && b <= 0xbf) n = b & 0x1f;
    else if (b === NIL) return -1;
    else if (b === 0xd9 || b === 0xc4) n = this.next('a string');
    else if (b === RAW16 || b === 0xc5) {
      this.need(2, 'a string');
      n = this.u16();
    } else if (b === RAW32 || b === 0xc6) {
      this.need(4, 'a string');
      n = this.u32();
    } else throw malformed('a string or bytes', b);
    this.need(n, 'a string');
    return n;
  }

  /** Raw, str or bin as a view into the input (no copy); nil as an empty view. */
  bytesView(): Uint8Array {
    const n = this.bytesLength();
    if (n <= 0) return this.buf.subarray(this.pos, this.pos);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Raw, str or bin copied out of the input, so it outlives the packet buffer. */
  bytes(): Uint8Array {
    const n = this.bytesLength();
    if (n <= 0) return new Uint8Array(0);
    const p = this.pos;
    this.pos += n;
    if (n > 32) return this.buf.slice(p, p + n);
    // A loop beats a native copy for the short Addr and Vsn fields.
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.buf[p + i] as number;
    return out;
  }

  /** Raw, str or bin as UTF-8 text (invalid sequences become U+FFFD, as Go's bytes never fail). */
  string(): string {
    const n = this.bytesLength();
    if (n <= 0) return '';
    const p = this.pos;
    this.pos += n;
    return text(this.buf, p, p + n);
  }

  /** A map key as Latin-1, which is exact for the ASCII field names compared against it. */
  key(): string {
    const n = this.bytesLength();
    if (n <= 0) return '';
    let s = '';
    for (let i = this.pos; i < this.pos + n; i++) s += String.fromCharCode(this.buf[i] as number);
    this.pos += n;
    return s;
  }

  bool(): boolean {
    const b = this.next('a bool');
    if (b === TRUE || b === 1) return true;
    if (b === FALSE || b === 0 || b === NIL) return false;
    throw malformed('a bool', b);
  }

  /** Any integer form (both go-msgpack families) that fits a safe JS number; nil reads as 0. */
  integer(): number {
    const b = this.next('an integer');
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case NIL:
        return 0;
      case UINT8:
        this.need(1, 'an integer');
        return this.buf[this.pos++] as number;
      case UINT16:
        this.need(2, 'an integer');
        return this.u16();
      case UINT32:
        this.need(4, 'an integer');
        return this.u32();
      case INT8:
        this.need(1, 'an integer');
        return ((this.buf[this.pos++] as number) << 24) >> 24;
      case INT16:
        this.need(2, 'an integer');
        return (this.u16() << 16) >> 16;
      case INT32:
        this.need(4, 'an integer');
        return this.u32() | 0;
      case UINT64:
      case INT64: {
        this.need(8, 'an integer');
        const v = b === UINT64 ? this.view().getBigUint64(this.pos) : this.view().getBigInt64(this.pos);
        this.pos += 8;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new WireError('limit', `msgpack: integer ${v} out of range`);
        }
        return Number(v);
      }
      default:
        throw malformed('an integer', b);
    }
  }

  /** An integer that must lie in [min, max] (the Go field's type); out of range is an error as in Go. */
  intIn(min: number, max: number): number {
    const v = this.integer();
    if (v < min || v > max) throw new WireError('malformed', `msgpack: integer ${v} outside [${min}, ${max}]`);
    return v;
  }

  uint8(): number {
    return this.intIn(0, 0xff);
  }

  uint16(): number {
    return this.intIn(0, 0xffff);
  }

  uint32(): number {
    return this.intIn(0, 0xffff_ffff);
  }

  /** A uint64 of any integer form as a BigInt (Serf's Lamport times reach past 2^53 in principle). */
  uint64(): bigint {
    const b = this.peek();
    if (b === UINT64 || b === INT64) {
      this.pos++;
      this.need(8, 'an integer');
      const v = b === UINT64 ? this.view().getBigUint64(this.pos) : this.view().getBigInt64(this.pos);
      this.pos += 8;
      if (v < 0n) throw new WireError('malformed', `msgpack: negative value ${v} for a uint64`);
      return v;
    }
    const v = this.integer();
    if (v < 0) throw new WireError('malformed', `msgpack: negative value ${v} for a uint64`);
    return BigInt(v);
  }

  /** Skips one value of any type (an unknown field), nested at most {@link MAX_MSGPACK_DEPTH} deep. */
  skip(): void {
    const end = scanValue(this.buf, this.pos, this.end);
    if (end < 0) throw truncated('a value');
    this.pos = end;
  }
}

/**
 * Size of the value at `pos` (header and payload) when it is not a container; -1 for maps and
 * arrays, -2 for the reserved 0xc1. A cut length field gives a size past `end`.
 */
function scalarSize(buf: Uint8Array, pos: number, end: number): number {
  const b = buf[pos] as number;
  if (b <= 0x7f || b >= 0xe0) return 1;
  if (b >= 0xa0 && b <= 0xbf) return 1 + (b & 0x1f);
  if (b >= 0x80 && b <= 0x9f) return -1;
  switch (b) {
    case NIL:
    case FALSE:
    case TRUE:
      return 1;
    case 0xc1:
      return -2;
    case UINT8:
    case INT8:
      return 2;
    case UINT16:
    case INT16:
      return 3;
    case UINT32:
    case INT32:
    case 0xca:
      return 5;
    case UINT64:
    case INT64:
    case 0xcb:
      return 9;
    case 0xd4:
      return 3;
    case 0xd5:
      return 4;
    case 0xd6:
      return 6;
    case 0xd7:
      return 10;
    case 0xd8:
      return 18;
    case 0xc4:
    case 0xd9:
      return pos + 1 < end ? 2 + (buf[pos + 1] as number) : 2;
    case 0xc5:
    case RAW16:
      return pos + 2 < end ? 3 + (((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number)) : 3;
    case 0xc6:
    case RAW32:
      return pos + 4 < end ? 5 + readU32(buf, pos + 1) : 5;
    case 0xc7:
      return pos + 1 < end ? 3 + (buf[pos + 1] as number) : 3;
    case 0xc8:
      return pos + 2 < end ? 4 + (((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number)) : 4;
    case 0xc9:
      return pos + 4 < end ? 6 + readU32(buf, pos + 1) : 6;
    default:
      return -1; // map16/32, array16/32
  }
}

function readU32(buf: Uint8Array, p: number): number {
  return (buf[p] as number) * 0x100_0000 + (((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number));
}

/** Entries (map: twice the pairs) and header size of a container at `pos`, or undefined when its header is cut. */
function containerItems(buf: Uint8Array, pos: number, end: number): [items: number, header: number] | undefined {
  const b = buf[pos] as number;
  if (b >= 0x80 && b <= 0x8f) return [(b & 0x0f) * 2, 1];
  if (b >= 0x90 && b <= 0x9f) return [b & 0x0f, 1];
  if (b === MAP16 || b === ARRAY16) {
    if (pos + 2 >= end) return undefined;
    const n = ((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number);
    return [b === MAP16 ? n * 2 : n, 3];
  }
  if (pos + 4 >= end) return undefined;
  const n = readU32(buf, pos + 1);
  return [b === MAP32 ? n * 2 : n, 5];
}

/**
 * Where the msgpack value starting at `pos` ends, or -1 when `end` comes first. Throws
 * {@link WireError} for 0xc1 and nesting deeper than {@link MAX_MSGPACK_DEPTH}. Costs one step
 * per byte at most: a container's claimed count is consumed element by element, never allocated.
 */
export function scanValue(buf: Uint8Array, pos: number, end: number): number {
  return new ValueScanner().scan(buf, pos, end);
}

/**
 * A resumable {@link scanValue}: feed it the same growing buffer as a stream's bytes arrive and it
 * picks up where it stopped, so framing a large message costs one pass over its bytes, not one per chunk.
 */
export class ValueScanner {
  /** Elements still to read in each open container, innermost last. */
  private readonly open: number[] = [];
  private at = -1;

  /** Forget any partial value, to scan a new one. */
  reset(): void {
    this.open.length = 0;
    this.at = -1;
  }

  /**
   * Scans from `start` (or from where the last call stopped) up to `end`. Returns where the
   * value ends, or -1 when more bytes are needed; the buffer's earlier bytes must not change.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    let pos = this.at < 0 ? start : this.at;
    const open = this.open;
    for (;;) {
      if (pos >= end) {
        this.at = pos;
        return -1;
      }
      const size = scalarSize(buf, pos, end);
      if (size === -2) throw new WireError('malformed', 'msgpack: reserved byte 0xc1');
      if (size === -1) {
        const c = containerItems(buf, pos, end);
        if (c === undefined) {
          this.at = pos;
          return -1;
        }
        if (open.length >= MAX_MSGPACK_DEPTH) throw new WireError('limit', 'msgpack: nested too deep');
        pos += c[1];
        if (c[0] > 0) {
          open.push(c[0]);
          continue;
        }
      } else {
        if (pos + size > end) {
          this.at = pos;
          return -1;
        }
        pos += size;
      }
      // One value complete: close every container it completes.
      while (open.length > 0) {
        const left = (open[open.length - 1] as number) - 1;
        if (left > 0) {
          open[open.length - 1] = left;
          break;
        }
        open.pop();
      }
      if (open.length === 0) {
        this.at = -1;
        return pos;
      }
    }
  }
}
