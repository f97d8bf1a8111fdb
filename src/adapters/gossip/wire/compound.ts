/**
 * Compound messages (util.go): several messages in one packet, `[7][n][n x uint16 BE length][bodies]`.
 * The count is one byte, so at most 255 parts; longer lists become several compounds.
 * @module
 */
import { WireError } from './errors.js';
import { MAX_COMPOUND_PARTS } from './limits.js';
import { MessageType } from './messages.js';

/** Header bytes of a compound (type and count), which memberlist budgets when it fills a packet. */
export const COMPOUND_HEADER_OVERHEAD = 2;
/** Bytes each part adds to the header (its length). */
export const COMPOUND_PART_OVERHEAD = 2;

/** One compound of up to 255 messages, each under 64 KiB. */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length > MAX_COMPOUND_PARTS) throw new RangeError(`a compound holds at most ${MAX_COMPOUND_PARTS} messages`);
  let size = 2 + 2 * parts.length;
  for (const p of parts) {
    if (p.length > 0xffff) throw new RangeError(`a compound part is at most 65535 bytes, not ${p.length}`);
    size += p.length;
  }
  const out = new Uint8Array(size);
  out[0] = MessageType.compound;
  out[1] = parts.length;
  let head = 2;
  let body = 2 + 2 * parts.length;
  for (const p of parts) {
    out[head++] = p.length >>> 8;
    out[head++] = p.length & 0xff;
    out.set(p, body);
    body += p.length;
  }
  return out;
}

/** Packs any number of messages into compounds of at most 255 each, as makeCompoundMessages does. */
export function encodeCompounds(parts: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i += MAX_COMPOUND_PARTS) out.push(encodeCompound(parts.slice(i, i + MAX_COMPOUND_PARTS)));
  return out;
}

/** The parts of a compound and how many were cut off by the end of the packet. */
export interface DecodedCompound {
  /** Views into the input, in order. */
  parts: Uint8Array[];
  /** Parts announced but missing (memberlist logs them and handles the rest). */
  truncated: number;
}

/** Splits a compound body (after the type byte). Throws when even the length table is cut. */
export function decodeCompound(body: Uint8Array): DecodedCompound {
  if (body.length < 1) throw new WireError('truncated', 'compound: missing part count');
  const n = body[0] as number;
  let pos = 1 + 2 * n;
  if (body.length < pos) throw new WireError('truncated', 'compound: length table cut short');
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = ((body[1 + 2 * i] as number) << 8) | (body[2 + 2 * i] as number);
    if (body.length - pos < len) return { parts, truncated: n - i };
    parts.push(body.subarray(pos, pos + len));
    pos += len;
  }
  return { parts, truncated: 0 };
}
