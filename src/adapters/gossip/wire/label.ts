/**
 * Labels (label.go, memberlist 0.3.0 and later): `[244][length 1..255][label]` in front of every
 * packet, and once at the start of every stream, so clusters sharing a network keep apart.
 * A label also authenticates: it is the AAD of the encryption layer.
 * @module
 */
import { WireError } from './errors.js';
import { LABEL_MAX_BYTES } from './limits.js';
import { MessageType } from './messages.js';

/** The label's bytes, checked once where it is configured: 1 to 255 bytes of UTF-8, or empty for none. */
export function labelBytes(label: string): Uint8Array {
  const b = Buffer.from(label, 'utf8');
  if (b.length > LABEL_MAX_BYTES) throw new RangeError(`a label is at most ${LABEL_MAX_BYTES} bytes, not ${b.length}`);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** Bytes the label header adds to each packet (none without a label). */
export function labelOverhead(label: Uint8Array): number {
  return label.length === 0 ? 0 : 2 + label.length;
}

/** The header alone: what a stream starts with. Empty without a label. */
export function labelHeader(label: Uint8Array): Uint8Array {
  if (label.length === 0) return label;
  const out = new Uint8Array(2 + label.length);
  out[0] = MessageType.label;
  out[1] = label.length;
  out.set(label, 2);
  return out;
}

/** Prefixes a packet with the label header; no label leaves it as it is. */
export function addLabel(packet: Uint8Array, label: Uint8Array): Uint8Array {
  if (label.length === 0) return packet;
  const out = new Uint8Array(2 + label.length + packet.length);
  out.set(labelHeader(label));
  out.set(packet, 2 + label.length);
  return out;
}

/** A label read off the front of a packet or stream, and how many bytes it took. */
export interface ReadLabel {
  /** Empty when the input carries no label header. */
  label: Uint8Array;
  consumed: number;
}

/**
 * Reads the label header at the start of `buf`, if any. Returns undefined when a stream has not
 * delivered the whole header yet (`final` false); throws `label` for an empty label and
 * `truncated` for a packet cut inside its header.
 */
export function readLabel(buf: Uint8Array, final = true): ReadLabel | undefined {
  if (buf.length === 0) return final ? { label: buf, consumed: 0 } : undefined;
  if (buf[0] !== MessageType.label) return { label: buf.subarray(0, 0), consumed: 0 };
  if (buf.length < 2) {
    if (!final) return undefined;
    throw new WireError('truncated', 'label header cut short');
  }
  const size = buf[1] as number;
  if (size === 0) throw new WireError('label', 'label header with an empty label');
  if (buf.length < 2 + size) {
    if (!final) return undefined;
    throw new WireError('truncated', 'label header cut short');
  }
  return { label: buf.subarray(2, 2 + size), consumed: 2 + size };
}

/** Removes the label header of a packet and checks it is `expected` (empty: no label allowed). */
export function removeLabel(packet: Uint8Array, expected: Uint8Array): Uint8Array {
  const read = readLabel(packet) as ReadLabel;
  checkLabel(read.label, expected);
  return packet.subarray(read.consumed);
}

/** Throws `label` unless `got` equals `expected` byte for byte. */
export function checkLabel(got: Uint8Array, expected: Uint8Array): void {
  if (!Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))) {
    throw new WireError('label', `label ${JSON.stringify(Buffer.from(got).toString('utf8'))} is not this cluster's`);
  }
}
