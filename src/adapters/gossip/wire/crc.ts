/**
 * The CRC layer (net.go): `[12][CRC32-IEEE of the rest, big-endian][message]`. memberlist adds it
 * only for a recipient whose PMax is 5 or more and accepts packets with or without it.
 * @module
 */
import { crc32 } from 'node:zlib';
import { WireError } from './errors.js';
import { MessageType } from './messages.js';

/** Bytes the CRC layer adds. */
export const CRC_OVERHEAD = 5;

/** Prefixes a packet with its checksum. */
export function addCrc(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(CRC_OVERHEAD + msg.length);
  out[0] = MessageType.hasCrc;
  new DataView(out.buffer).setUint32(1, crc32(msg));
  out.set(msg, CRC_OVERHEAD);
  return out;
}

/**
 * Strips and checks the CRC layer when present; a packet without it is returned as is.
 * Throws `checksum` when the sum does not match.
 */
export function removeCrc(packet: Uint8Array): Uint8Array {
  if (packet.length < CRC_OVERHEAD || packet[0] !== MessageType.hasCrc) return packet;
  const msg = packet.subarray(CRC_OVERHEAD);
  const want = new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(1);
  if (crc32(msg) !== want) throw new WireError('checksum', 'packet CRC32 does not match');
  return msg;
}
