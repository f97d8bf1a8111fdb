/**
 * The packet and stream layers in memberlist's outgoing order (net.go rawSendMsgPacket,
 * rawSendMsgStream) and its reverse (ingestPacket, handleCommand, readStream):
 *
 *   packet:  message -> compress (when smaller) -> CRC (peer PMax >= 5) -> encrypt -> label
 *   stream:  label once per stream, then per message: message -> compress -> encrypt frame
 *
 * Every decoding function throws only {@link WireError}; the net layer counts it as a drop.
 * @module
 */
import { decodeCompound } from './compound.js';
import { addCrc, removeCrc } from './crc.js';
import { WireError } from './errors.js';
import type { Keyring } from './keyring.js';
import { addLabel, removeLabel } from './label.js';
import { MAX_DECOMPRESSED_BYTES, MAX_PACKET_BYTES } from './limits.js';
import { lzwCompress, lzwDecompress } from './lzw.js';
import { decodeCompress, encodeCompress, MessageType } from './messages.js';
import { decryptPacket, decryptStreamMessage, encryptPacket, encryptStreamMessage } from './security.js';

/** How this node wraps and unwraps what it sends and receives. */
export interface WireLayers {
  /** The cluster label; empty for none. */
  label: Uint8Array;
  /** Encrypts everything sent and requires encryption of everything received when set. */
  keyring?: Keyring | undefined;
  /** Compress outgoing messages (memberlist's presets: on). */
  compression: boolean;
  /** 1 (protocol 2 and up) or 0 (protocol 1 pads). @default 1 */
  encryptionVersion?: 0 | 1;
  /**
   * Drop what fails to decrypt (memberlist `GossipVerifyIncoming`); false accepts plaintext too,
   * for the step of a rolling introduction of encryption. @default true
   */
  verifyIncoming?: boolean;
  /** Encrypt what is sent (memberlist `GossipVerifyOutgoing`). @default true */
  verifyOutgoing?: boolean;
}

/** `[9]{Algo: 0, Buf: lzw(msg)}`, as compressPayload writes it. */
export function compressMessage(msg: Uint8Array): Uint8Array {
  return encodeCompress({ algo: 0, buf: lzwCompress(msg) });
}

/** Inflates a compress body (after the type byte) to the message inside, at most `maxBytes`. */
export function decompressMessage(body: Uint8Array, maxBytes = MAX_DECOMPRESSED_BYTES): Uint8Array {
  const c = decodeCompress(body);
  if (c.algo !== 0) throw new WireError('unsupported', `compression algorithm ${c.algo}`);
  return lzwDecompress(c.buf, maxBytes);
}

/** Wraps one message (or compound) for a datagram to a peer; `crc` when the peer's PMax is 5 or more. */
export function encodePacket(msg: Uint8Array, layers: WireLayers, crc: boolean): Uint8Array {
  let out = msg;
  if (layers.compression) {
    const compressed = compressMessage(out);
    if (compressed.length < out.length) out = compressed;
  }
  if (crc) out = addCrc(out);
  if (layers.keyring && layers.verifyOutgoing !== false)
    out = encryptPacket(out, layers.keyring, layers.label, layers.encryptionVersion ?? 1);
  return addLabel(out, layers.label);
}

/**
 * Unwraps a received datagram down to its message (which may still be a compound or compressed:
 * see {@link unpackMessages}). Throws for a wrong label, a packet no key opens (or plaintext
 * while a key is set), and a bad CRC.
 */
export function decodePacket(packet: Uint8Array, layers: WireLayers): Uint8Array {
  if (packet.length > MAX_PACKET_BYTES) throw new WireError('limit', `datagram of ${packet.length} bytes`);
  let msg = removeLabel(packet, layers.label);
  if (layers.keyring) {
    try {
      msg = decryptPacket(msg, layers.keyring, layers.label);
    } catch (err) {
      // Whatever the cause (no key fits, not ciphertext at all), it is a decryption drop.
      if (layers.verifyIncoming !== false) throw new WireError('decrypt', (err as Error).message);
    }
  }
  msg = removeCrc(msg);
  if (msg.length === 0) throw new WireError('truncated', 'packet without a message type');
  return msg;
}

/** The plain messages a packet carried, and how many compound parts were cut off. */
export interface UnpackedMessages {
  /** Each is `[type][body]`, a view into the packet or a decompressed buffer. */
  messages: Uint8Array[];
  truncated: number;
}

/** Compound and compress may nest (compress of a compound is the usual); deeper is hostile. */
const MAX_NESTING = 4;

/**
 * Flattens compound and compress messages as handleCommand does, recursively, with the total
 * inflated size bounded by {@link MAX_DECOMPRESSED_BYTES}. Messages of other types are returned
 * as they are, to be decoded by type.
 */
export function unpackMessages(msg: Uint8Array): UnpackedMessages {
  const out: UnpackedMessages = { messages: [], truncated: 0 };
  let budget = MAX_DECOMPRESSED_BYTES;
  const walk = (m: Uint8Array, depth: number) => {
    if (m.length === 0) throw new WireError('truncated', 'message without a type byte');
    const type = m[0];
    if (type !== MessageType.compound && type !== MessageType.compress) {
      out.messages.push(m);
      return;
    }
    if (depth >= MAX_NESTING) throw new WireError('limit', 'compound and compress nested too deep');
    if (type === MessageType.compress) {
      const inner = decompressMessage(m.subarray(1), budget);
      budget -= inner.length;
      walk(inner, depth + 1);
      return;
    }
    const c = decodeCompound(m.subarray(1));
    out.truncated += c.truncated;
    for (const part of c.parts) walk(part, depth + 1);
  };
  walk(msg, 0);
  return out;
}

/**
 * Wraps one stream message (after the stream's label header, which {@link labelHeader} gives and
 * the caller writes once): compressed whenever compression is on, then the encrypted frame.
 */
export function encodeStreamMessage(msg: Uint8Array, layers: WireLayers): Uint8Array {
  let out = layers.compression ? compressMessage(msg) : msg;
  if (layers.keyring && layers.verifyOutgoing !== false)
    out = encryptStreamMessage(out, layers.keyring, layers.label, layers.encryptionVersion ?? 1);
  return out;
}

/**
 * Unwraps one framed stream message (see frame.ts for finding its end) to `[type][body]`:
 * decrypts an encrypted frame (and refuses plaintext while a key is set), then inflates a
 * compressed one.
 */
export function decodeStreamMessage(frame: Uint8Array, layers: WireLayers): Uint8Array {
  if (frame.length === 0) throw new WireError('truncated', 'empty stream message');
  let msg = frame;
  if (frame[0] === MessageType.encrypt) {
    if (!layers.keyring) throw new WireError('decrypt', 'stream is encrypted and no key is set');
    msg = decryptStreamMessage(frame, layers.keyring, layers.label);
  } else if (layers.keyring && layers.verifyIncoming !== false) {
    throw new WireError('decrypt', 'a key is set and the stream is not encrypted');
  }
  if (msg.length === 0) throw new WireError('truncated', 'empty stream message');
  if (msg[0] === MessageType.compress) {
    msg = decompressMessage(msg.subarray(1));
    if (msg.length === 0) throw new WireError('truncated', 'decompressed stream message is empty');
  }
  return msg;
}
