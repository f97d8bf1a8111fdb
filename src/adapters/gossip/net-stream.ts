/**
 * One message each way on a stream (net.go's readStream and rawSendMsgStream): the frame comes off
 * the {@link StreamReader}, the wire layers undo encryption and compression, and what is left is
 * `[type][body]` for the complete-message decoders.
 * @module
 */

import type { Stream } from '../../internal/transport.js';
import type { StreamReader } from './net-stream-reader.js';
import { decodeStreamMessage, encodeStreamMessage, type WireLayers } from './wire/layers.js';

/** A plain stream message: its type and body. */
export interface StreamMessage {
  type: number;
  body: Uint8Array;
}

export async function readStreamMessage(reader: StreamReader, layers: WireLayers): Promise<StreamMessage> {
  const message = decodeStreamMessage(await reader.frame(), layers);
  return { type: message[0] as number, body: message.subarray(1) };
}

/** Writes one message, compressed and encrypted as configured (the label, if any, went first, once). */
export function writeStreamMessage(stream: Stream, message: Uint8Array, layers: WireLayers): Promise<void> {
  return stream.write(encodeStreamMessage(message, layers));
}
