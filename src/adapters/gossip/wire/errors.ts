/**
 * The one error every wire decoder throws. The net layer catches it, counts a drop under its
 * `reason` and goes on: hostile or broken input never escapes as anything else.
 * @module
 */
import { RollcallError } from '../../../errors.js';

/** Why a packet or stream was dropped; the stats counters are keyed by these. Append only. */
export type WireDropReason =
  /** The input ended before the value or message it announced. */
  | 'truncated'
  /** A length, count or size is over one of memberlist's limits (limits.ts). */
  | 'limit'
  /** The bytes are not the msgpack or layout the message type requires. */
  | 'malformed'
  /** An unknown message type, compression algorithm or encryption version. */
  | 'unsupported'
  /** The CRC32 of a hasCrc packet does not match. */
  | 'checksum'
  /** No key of the keyring opens it, or it is plaintext while a key is set, or ciphertext while none is. */
  | 'decrypt'
  /** A label header that is empty, or a label other than ours. */
  | 'label';

/** A wire decoding failure; `code` is `BAD_RESPONSE`, `reason` says which counter to raise. */
export class WireError extends RollcallError {
  readonly reason: WireDropReason;

  constructor(reason: WireDropReason, message: string) {
    super('BAD_RESPONSE', message, { adapter: 'gossip' });
    this.reason = reason;
  }
}

/** True for a {@link WireError} from any copy of rollcall. */
export function isWireError(value: unknown): value is WireError {
  return value instanceof RollcallError && typeof (value as { reason?: unknown }).reason === 'string' && value.code === 'BAD_RESPONSE';
}
