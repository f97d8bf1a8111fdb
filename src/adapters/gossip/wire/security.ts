/**
 * The encryption layer (security.go): AES-GCM with a 12-byte random nonce and a 16-byte tag,
 * `[version][nonce][ciphertext][tag]`. Version 0 pads the plaintext PKCS#7 style (protocol 1),
 * version 1 does not; both are read, version 1 is sent. The additional data is the label for
 * packets, and the 5-byte `[10][length]` frame header followed by the label for streams.
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { WireError } from './errors.js';
import type { Keyring } from './keyring.js';
import { MAX_PUSH_STATE_BYTES } from './limits.js';
import { MessageType } from './messages.js';

const NONCE = 12;
const TAG = 16;
const BLOCK = 16;
/** Bytes encryption adds at most, by version: version, nonce, tag, and up to a block of padding. */
export function encryptOverhead(version: 0 | 1): number {
  return version === 0 ? 1 + NONCE + BLOCK + TAG : 1 + NONCE + TAG;
}

/** Encrypted size of `length` plaintext bytes. */
export function encryptedLength(version: 0 | 1, length: number): number {
  return version === 0 ? 1 + NONCE + length + (BLOCK - (length % BLOCK)) + TAG : 1 + NONCE + length + TAG;
}

function algorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new RangeError(`a gossip key is 16, 24 or 32 bytes, not ${key.length}`);
}

/** Encrypts `msg` with `key`; `aad` is authenticated but not sent. */
export function encryptPayload(msg: Uint8Array, key: Uint8Array, aad: Uint8Array, version: 0 | 1 = 1): Uint8Array {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv(algorithm(key), key, nonce);
  if (aad.length > 0) cipher.setAAD(aad);
  let plain = msg;
  if (version === 0) {
    const pad = BLOCK - (msg.length % BLOCK);
    plain = new Uint8Array(msg.length + pad);
    plain.set(msg);
    plain.fill(pad, msg.length);
  }
  const body = cipher.update(plain);
  cipher.final();
  const out = new Uint8Array(1 + NONCE + body.length + TAG);
  out[0] = version;
  out.set(nonce, 1);
  out.set(body, 1 + NONCE);
  out.set(cipher.getAuthTag(), 1 + NONCE + body.length);
  return out;
}

function open(key: Uint8Array, msg: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  const decipher = createDecipheriv(algorithm(key), key, msg.subarray(1, 1 + NONCE));
  if (aad.length > 0) decipher.setAAD(aad);
  decipher.setAuthTag(msg.subarray(msg.length - TAG));
  const body = decipher.update(msg.subarray(1 + NONCE, msg.length - TAG));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}

/**
 * Decrypts with each key of the ring, primary first. Throws `unsupported` for an unknown version,
 * `truncated` for a payload too short to hold one, and `decrypt` when no key opens it.
 */
export function decryptPayload(msg: Uint8Array, keys: readonly Uint8Array[], aad: Uint8Array): Uint8Array {
  if (msg.length === 0) throw new WireError('truncated', 'empty encrypted payload');
  const version = msg[0] as number;
  if (version > 1) throw new WireError('unsupported', `encryption version ${version}`);
  if (msg.length < encryptedLength(version as 0 | 1, 0)) {
    throw new WireError('truncated', `encrypted payload of ${msg.length} bytes`);
  }
  for (const key of keys) {
    const plain = open(key, msg, aad);
    if (plain === undefined) continue;
    if (version === 1) return plain;
    const pad = plain.length > 0 ? (plain[plain.length - 1] as number) : 0;
    if (pad < 1 || pad > BLOCK || pad > plain.length) throw new WireError('decrypt', 'bad PKCS#7 padding');
    return plain.subarray(0, plain.length - pad);
  }
  throw new WireError('decrypt', 'no installed key decrypts the message');
}

/** Encrypts a packet with the primary key; the label is the additional data. */
export function encryptPacket(msg: Uint8Array, ring: Keyring, label: Uint8Array, version: 0 | 1 = 1): Uint8Array {
  return encryptPayload(msg, ring.primary, label, version);
}

/** Decrypts a packet with every key of the ring. */
export function decryptPacket(packet: Uint8Array, ring: Keyring, label: Uint8Array): Uint8Array {
  return decryptPayload(packet, ring.keys, label);
}

function streamAad(header: Uint8Array, label: Uint8Array): Uint8Array {
  const aad = new Uint8Array(5 + label.length);
  aad.set(header.subarray(0, 5));
  aad.set(label, 5);
  return aad;
}

/** One stream message encrypted: `[10][uint32 BE length][encrypted payload]`. */
export function encryptStreamMessage(msg: Uint8Array, ring: Keyring, label: Uint8Array, version: 0 | 1 = 1): Uint8Array {
  const header = new Uint8Array(5);
  header[0] = MessageType.encrypt;
  new DataView(header.buffer).setUint32(1, encryptedLength(version, msg.length));
  const body = encryptPayload(msg, ring.primary, streamAad(header, label), version);
  const out = new Uint8Array(5 + body.length);
  out.set(header);
  out.set(body, 5);
  return out;
}

/**
 * Length of the encrypted payload a stream frame header announces, checked against memberlist's
 * 20 MiB limit before anything is read for it. `header` is at least the first 5 bytes of the frame.
 */
export function streamFrameLength(header: Uint8Array): number {
  if (header.length < 5) throw new WireError('truncated', 'encrypted stream header cut short');
  if (header[0] !== MessageType.encrypt) throw new WireError('decrypt', 'stream message is not encrypted');
  const n = new DataView(header.buffer, header.byteOffset, header.byteLength).getUint32(1);
  if (n > MAX_PUSH_STATE_BYTES) throw new WireError('limit', `encrypted stream message of ${n} bytes`);
  return n;
}

/** Decrypts a whole stream frame (header and payload) to the message inside. */
export function decryptStreamMessage(frame: Uint8Array, ring: Keyring, label: Uint8Array): Uint8Array {
  const n = streamFrameLength(frame);
  if (frame.length < 5 + n) throw new WireError('truncated', 'encrypted stream message cut short');
  return decryptPayload(frame.subarray(5, 5 + n), ring.keys, streamAad(frame, label));
}
