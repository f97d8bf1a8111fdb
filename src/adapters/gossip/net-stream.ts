/**
 * Stream messages (net.go's readStream, rawSendMsgStream, readRemoteState): one message per
 * direction, optionally compressed and then encrypted as a whole. Plain messages are read value by
 * value off the socket; encrypted or compressed ones arrive as one bounded blob and are decoded from
 * memory. Either way the push/pull limits are checked before anything is sized from a claim.
 * @module
 */

import type { Stream } from '../../internal/transport.js';
import type { NetLayers } from './net-layers.js';
import { StreamReader } from './net-stream-reader.js';
import { WireError } from './wire/errors.js';
import { MAX_PUSH_STATE_BYTES, MAX_USER_MSG_BYTES } from './wire/limits.js';
import { MessageType, type PushNodeState, type PushPull, readPushNode, readPushPullHeader, readUserMsgHeader } from './wire/messages.js';
import { MsgpackReader, scanValue } from './wire/msgpack.js';

/** Where a stream message's values come from: the socket as it arrives, or a decrypted/inflated buffer. */
export interface ValueSource {
  /** The bytes of the next msgpack value. */
  value(): Promise<Uint8Array>;
  /** The next `n` raw bytes (`n` already checked against a limit). */
  exactly(n: number): Promise<Uint8Array>;
}

/** A stream message whose type byte has been read; its body is read from `source`. */
export interface StreamMessage {
  type: number;
  source: ValueSource;
}

/** Most bytes one incoming stream message may take: the push/pull state limit plus its framing. */
export const STREAM_MESSAGE_BUDGET = MAX_PUSH_STATE_BYTES + 64 * 1024;

const EMPTY = new Uint8Array(0);

class BufferSource implements ValueSource {
  #pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
  ) {
    this.#pos = start;
  }

  value(): Promise<Uint8Array> {
    const end = scanValue(this.buf, this.#pos, this.buf.length);
    if (end < 0) return Promise.reject(new WireError('truncated', 'stream message ends inside a value'));
    const out = this.buf.subarray(this.#pos, end);
    this.#pos = end;
    return Promise.resolve(out);
  }

  exactly(n: number): Promise<Uint8Array> {
    if (this.buf.length - this.#pos < n) return Promise.reject(new WireError('truncated', 'stream message is shorter than it claims'));
    const out = this.buf.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return Promise.resolve(out);
  }
}

/**
 * Reads the stream label (once, before the first message) and returns it, or `undefined` when the
 * stream carries none. A label header is `[244][len][label]`.
 */
export async function readStreamLabel(reader: StreamReader, layers: NetLayers): Promise<string | undefined> {
  if ((await reader.peek()) !== MessageType.label) return undefined;
  await reader.byte();
  const length = await reader.byte();
  return layers.decodeLabel(await reader.exactly(length));
}

/** Reads the next message's type, undoing encryption and compression; the body is left in `source`. */
export async function readStreamMessage(reader: StreamReader, layers: NetLayers, label: string): Promise<StreamMessage> {
  let type = await reader.byte();
  let plain: Uint8Array | undefined;
  if (type === MessageType.encrypt) {
    const header = new Uint8Array(5);
    header[0] = type;
    header.set(await reader.exactly(4), 1);
    const length = new DataView(header.buffer).getUint32(1);
    if (length > MAX_PUSH_STATE_BYTES) throw new WireError('limit', `encrypted stream message claims ${length} bytes`);
    plain = layers.decryptStream(await reader.exactly(length), header, label);
    if (plain.length === 0) throw new WireError('truncated', 'decrypted stream message is empty');
    type = plain[0] as number;
  } else if (layers.encrypted) {
    throw new WireError('decrypt', 'plaintext stream while a key is set');
  }
  if (type === MessageType.compress) {
    const compressed = plain ? await new BufferSource(plain, 1).value() : await reader.value();
    plain = layers.decompress(compressed);
    if (plain.length === 0) throw new WireError('truncated', 'decompressed stream message is empty');
    type = plain[0] as number;
  }
  return { type, source: plain ? new BufferSource(plain, 1) : reader };
}

/** Reads a push/pull body: the header's claims are checked before a node is read, each node as it arrives. */
export async function readRemoteState(source: ValueSource): Promise<PushPull> {
  const header = readPushPullHeader(new MsgpackReader(await source.value()), Number.MAX_SAFE_INTEGER);
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < header.nodes; i++) {
    const node = readPushNode(new MsgpackReader(await source.value()));
    // A nameless state is worthless to merge; refusing it keeps a flood of 1-byte maps from costing objects.
    if (node.name === '') throw new WireError('malformed', 'push/pull node state without a name');
    nodes.push(node);
  }
  const userState = header.userStateLen > 0 ? await source.exactly(header.userStateLen) : EMPTY;
  return { join: header.join, nodes, userState };
}

/** Reads a stream user message body: `{UserMsgLen}` then that many bytes. */
export async function readUserMessage(source: ValueSource): Promise<Uint8Array> {
  const length = readUserMsgHeader(new MsgpackReader(await source.value()), MAX_USER_MSG_BYTES);
  return length > 0 ? source.exactly(length) : EMPTY;
}

/** Writes one message, compressed and encrypted as configured (the label went first, once per stream). */
export function writeStreamMessage(stream: Stream, message: Uint8Array, layers: NetLayers, label: string): Promise<void> {
  let out = layers.compression ? layers.compress(message) : message;
  if (layers.encrypted) out = layers.encryptStream(out, label);
  return stream.write(out);
}

/** Opens a reader with the budget one incoming message may use. */
export function streamReader(stream: Stream): StreamReader {
  return new StreamReader(stream, STREAM_MESSAGE_BUDGET);
}
