/**
 * LZW as Go's `compress/lzw` does it with `LSB` order and literal width 8, the only compression
 * memberlist knows (`lzwAlgo`). The writer's output is byte-identical to Go 1.17 and later (a clear
 * code first, codes widening from 9 to 12 bits, a clear code when the table fills, then EOF); the
 * reader takes any valid stream, with or without the leading clear code older Go versions omitted.
 *
 * Reading is bounded: the output stops at a caller's limit (memberlist: 40 MiB), a stream without
 * its EOF code is truncated, and a code the table does not hold yet is malformed.
 * @module
 */
import { WireError } from './errors.js';

const LIT_WIDTH = 8;
const CLEAR = 1 << LIT_WIDTH; // 256
const EOF = CLEAR + 1; // 257
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1; // 4095
/** Open-addressed table of (prefix code, next byte) -> code, four times the codes it can hold. */
const TABLE_BITS = MAX_WIDTH + 2;
const TABLE_SIZE = 1 << TABLE_BITS;
const TABLE_MASK = TABLE_SIZE - 1;
const EMPTY = 0xffff_ffff;

/** Packs codes LSB first into a growing byte buffer. */
class BitWriter {
  out: Uint8Array;
  pos = 0;
  private bits = 0;
  private nBits = 0;

  constructor(size: number) {
    this.out = new Uint8Array(Math.max(16, size));
  }

  write(code: number, width: number): void {
    this.bits |= code << this.nBits;
    this.nBits += width;
    while (this.nBits >= 8) {
      if (this.pos === this.out.length) {
        const next = new Uint8Array(this.out.length * 2);
        next.set(this.out);
        this.out = next;
      }
      this.out[this.pos++] = this.bits & 0xff;
      this.bits >>>= 8;
      this.nBits -= 8;
    }
  }

  finish(): Uint8Array {
    if (this.nBits > 0) this.write(0, 8 - this.nBits);
    return this.out.subarray(0, this.pos);
  }
}

// One table reused by every call: compression is synchronous and never re-enters.
const table = new Uint32Array(TABLE_SIZE);

/** Compresses `input` exactly as Go's `lzw.NewWriter(w, lzw.LSB, 8)` followed by `Close()`. */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const w = new BitWriter(input.length / 2 + 16);
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  table.fill(EMPTY);
  // Go writes a clear code before anything else (GIF89a appendix F), even for empty input.
  w.write(CLEAR, width);
  if (input.length === 0) {
    w.write(EOF, width);
    return w.finish();
  }

  /** Go's incHi: the next code number; false when the table just filled and was reset. */
  const nextCode = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      w.write(CLEAR, width);
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = CLEAR << 1;
      table.fill(EMPTY);
      return false;
    }
    return true;
  };

  let code = input[0] as number;
  outer: for (let i = 1; i < input.length; i++) {
    const literal = input[i] as number;
    const key = (code << 8) | literal;
    let h = ((key >>> 12) ^ key) & TABLE_MASK;
    for (let t = table[h] as number; t !== EMPTY; t = table[h] as number) {
      if (t >>> 12 === key) {
        code = t & MAX_CODE;
        continue outer;
      }
      h = (h + 1) & TABLE_MASK;
    }
    w.write(code, width);
    code = literal;
    if (!nextCode()) continue;
    table[h] = ((key << 12) | hi) >>> 0;
  }
  w.write(code, width);
  nextCode();
  w.write(EOF, width);
  return w.finish();
}

/**
 * Inflates a Go `compress/lzw` (LSB, width 8) stream. Throws {@link WireError}: `limit` once the
 * output would pass `maxBytes`, `truncated` when the EOF code never comes, `malformed` for a code
 * that is not in the table.
 */
export function lzwDecompress(input: Uint8Array, maxBytes: number): Uint8Array {
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const length = new Uint16Array(1 << MAX_WIDTH);
  // Start near the usual ratio and double as needed: only bytes actually produced are ever reserved.
  let out = new Uint8Array(Math.min(maxBytes, Math.max(64, input.length * 4)));
  let o = 0;
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  let last = -1;
  let bits = 0;
  let nBits = 0;
  let pos = 0;

  const room = (n: number) => {
    if (o + n <= out.length) return;
    if (o + n > maxBytes) throw new WireError('limit', `decompressed data exceeds ${maxBytes} bytes`);
    let size = out.length * 2;
    while (size < o + n) size *= 2;
    const next = new Uint8Array(Math.min(size, maxBytes));
    next.set(out.subarray(0, o));
    out = next;
  };

  for (;;) {
    while (nBits < width) {
      if (pos >= input.length) throw new WireError('truncated', 'lzw: stream ends before its EOF code');
      bits |= (input[pos++] as number) << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;

    if (code < CLEAR) {
      room(1);
      out[o++] = code;
      if (last >= 0) {
        prefix[hi] = last;
        suffix[hi] = code;
        length[hi] = (last < CLEAR ? 1 : (length[last] as number)) + 1;
      }
    } else if (code === CLEAR) {
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = 1 << width;
      last = -1;
      continue;
    } else if (code === EOF) {
      return out.slice(0, o);
    } else if (code < hi || (code === hi && last >= 0)) {
      // code === hi is the one code not in the table yet: the last expansion plus its own first byte.
      const c = code === hi ? last : code;
      const n = c < CLEAR ? 1 : (length[c] as number);
      const total = code === hi ? n + 1 : n;
      room(total);
      let i = o + n - 1;
      let k = c;
      while (k >= CLEAR) {
        out[i--] = suffix[k] as number;
        k = prefix[k] as number;
      }
      out[i] = k;
      if (code === hi) out[o + n] = k;
      o += total;
      if (last >= 0) {
        prefix[hi] = last;
        suffix[hi] = k;
        length[hi] = (last < CLEAR ? 1 : (length[last] as number)) + 1;
      }
    } else {
      throw new WireError('malformed', `lzw: code ${code} is not in the table (next is ${hi})`);
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        // A full table: no more entries until the writer sends a clear code.
        last = -1;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
}
