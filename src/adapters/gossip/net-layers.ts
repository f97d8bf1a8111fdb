/**
 * The packet and stream layers of one node's configuration (label, encryption, compression, CRC),
 * bound once so the net code asks "encrypt this" without knowing keys or algorithms. The codecs
 * themselves live in ./wire.
 * @module
 */

import { crc32 } from 'node:zlib';
import { RollcallError } from '../../errors.js';
import { WireError } from './wire/errors.js';
import { MessageType } from './wire/messages.js';

export interface NetLayersOptions {
  /** Cluster label: sent on every packet and stream, and required on everything received. */
  label?: string;
  /** Compress packets (when smaller) and stream messages with LZW, as memberlist's EnableCompression. */
  compression?: boolean;
}

export interface NetLayers {
  readonly label: string;
  readonly encrypted: boolean;
  readonly compression: boolean;
  /** `[244][len][label]`, or empty without a label. */
  readonly labelHeader: Uint8Array;
  /** Splits a packet's label header off; the label is `''` when there is none. */
  removePacketLabel(packet: Uint8Array): { label: string; rest: Uint8Array };
  decodeLabel(bytes: Uint8Array): string;
  encryptPacket(plain: Uint8Array, label: string): Uint8Array;
  decryptPacket(packet: Uint8Array, label: string): Uint8Array;
  /** `[10][u32 length][ciphertext]` with the header and label as authenticated data. */
  encryptStream(plain: Uint8Array, label: string): Uint8Array;
  decryptStream(ciphertext: Uint8Array, header: Uint8Array, label: string): Uint8Array;
  /** The whole compress message `[9]{Algo, Buf}` for `message`. */
  compress(message: Uint8Array): Uint8Array;
  /** The message inside a compress body (the msgpack map after the type byte). */
  decompress(body: Uint8Array): Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createNetLayers(options: NetLayersOptions): NetLayers {
  const label = options.label ?? '';
  const labelBytes = Buffer.from(label, 'utf8');
  if (labelBytes.length > 255) throw new RollcallError('INVALID_OPTIONS', 'gossip label is longer than 255 bytes', { adapter: 'gossip' });
  if (options.compression) throw new RollcallError('UNSUPPORTED', 'gossip compression is not available yet', { adapter: 'gossip' });
  const labelHeader = label === '' ? new Uint8Array(0) : Buffer.concat([Buffer.from([MessageType.label, labelBytes.length]), labelBytes]);
  const noKey = (): never => {
    throw new WireError('decrypt', 'encrypted input while no key is set');
  };
  return {
    label,
    encrypted: false,
    compression: false,
    labelHeader,
    decodeLabel(bytes) {
      if (bytes.length === 0) throw new WireError('label', 'empty label header');
      try {
        return utf8.decode(bytes);
      } catch {
        throw new WireError('label', 'label is not UTF-8');
      }
    },
    removePacketLabel(packet) {
      if (packet[0] !== MessageType.label) return { label: '', rest: packet };
      if (packet.length < 2) throw new WireError('truncated', 'packet ends inside its label header');
      const length = packet[1] as number;
      if (packet.length < 2 + length) throw new WireError('truncated', 'packet ends inside its label');
      return { label: this.decodeLabel(packet.subarray(2, 2 + length)), rest: packet.subarray(2 + length) };
    },
    encryptPacket: (plain) => plain,
    decryptPacket: (packet) => (packet[0] === MessageType.encrypt ? noKey() : packet),
    encryptStream: (plain) => plain,
    decryptStream: noKey,
    compress: (message) => message,
    decompress: () => {
      throw new WireError('unsupported', 'compressed input while compression is not available');
    },
  };
}

/** `[12][crc32 BE][message]`, sent to peers whose protocol max is 5 or more. */
export function withCrc(message: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = MessageType.hasCrc;
  out.writeUInt32BE(crc32(message), 1);
  out.set(message, 5);
  return out;
}

/** The message inside a hasCrc packet, or the packet itself when it has none; a wrong CRC throws. */
export function checkCrc(packet: Uint8Array): Uint8Array {
  if (packet.length < 5 || packet[0] !== MessageType.hasCrc) return packet;
  const view = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  const message = packet.subarray(5);
  if (view.readUInt32BE(1) !== crc32(message)) throw new WireError('checksum', 'packet CRC32 does not match');
  return message;
}
