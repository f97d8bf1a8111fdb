/**
 * Where a stream message ends. memberlist writes stream messages without a length prefix unless
 * they are encrypted (`[10][uint32 length]`), and the peer that opened a push/pull keeps the
 * connection open for the answer, so the receiver must find the end of each message from its
 * msgpack structure: one value for most types, header + node states + user state for a push/pull,
 * header + payload for a user message. The framer resumes where it stopped as bytes arrive, so
 * framing costs one pass however the message is split, and it refuses a message that grows past
 * the limit before it is complete.
 * @module
 */
import { WireError } from './errors.js';
import { MAX_DECOMPRESSED_BYTES, MAX_PUSH_STATE_BYTES } from './limits.js';
import { MessageType, readPushPullHeader, readUserMsgHeader } from './messages.js';
import { MsgpackReader, ValueScanner } from './msgpack.js';
import { streamFrameLength } from './security.js';

type Phase = 'type' | 'value' | 'pushPullHeader' | 'pushPullNodes' | 'userHeader' | 'tail';

/** Frames stream messages one after another; feed it the growing buffer of one stream. */
export class StreamFramer {
  private phase: Phase = 'type';
  private readonly scanner = new ValueScanner();
  private start = 0;
  private at = 0;
  private nodesLeft = 0;
  private tailEnd = 0;

  /** `maxBytes` bounds one message; memberlist's largest legitimate one is a push/pull. */
  constructor(private readonly maxBytes = MAX_DECOMPRESSED_BYTES) {}

  /**
   * Returns where the message starting at `start` ends, or -1 when `end` comes first. Call again
   * with the same `start` and a later `end` as bytes arrive (earlier bytes must not change); after
   * a message is returned, the next call starts a new one. Throws {@link WireError} for a type that
   * does not travel on streams, bad msgpack, or a message over the limit.
   */
  next(buf: Uint8Array, start: number, end: number): number {
    if (this.phase === 'type') {
      if (end <= start) return -1;
      this.start = start;
      this.at = start + 1;
      this.scanner.reset();
      const type = buf[start] as number;
      switch (type) {
        case MessageType.encrypt:
          this.phase = 'tail';
          this.tailEnd = -1;
          break;
        case MessageType.pushPull:
          this.phase = 'pushPullHeader';
          break;
        case MessageType.user:
          this.phase = 'userHeader';
          break;
        case MessageType.ping:
        case MessageType.indirectPing:
        case MessageType.ack:
        case MessageType.nack:
        case MessageType.suspect:
        case MessageType.alive:
        case MessageType.dead:
        case MessageType.compress:
        case MessageType.err:
          this.phase = 'value';
          break;
        default:
          throw new WireError('unsupported', `message type ${type} on a stream`);
      }
    }
    const found = this.advance(buf, end);
    if (found < 0 && end - this.start > this.maxBytes) {
      throw new WireError('limit', `stream message over ${this.maxBytes} bytes`);
    }
    if (found >= 0) this.phase = 'type';
    return found;
  }

  private advance(buf: Uint8Array, end: number): number {
    for (;;) {
      switch (this.phase) {
        case 'value': {
          const e = this.scanner.scan(buf, this.at, end);
          return e;
        }
        case 'pushPullHeader':
        case 'userHeader': {
          const e = this.scanner.scan(buf, this.at, end);
          if (e < 0) return -1;
          const r = new MsgpackReader(buf, this.at, e);
          if (this.phase === 'userHeader') {
            const len = readUserMsgHeader(r, Number.MAX_SAFE_INTEGER);
            this.phase = 'tail';
            this.tailEnd = e + len;
          } else {
            const h = readPushPullHeader(r, Number.MAX_SAFE_INTEGER);
            this.nodesLeft = h.nodes;
            this.tailEnd = h.userStateLen;
            this.phase = 'pushPullNodes';
          }
          this.at = e;
          continue;
        }
        case 'pushPullNodes': {
          while (this.nodesLeft > 0) {
            const e = this.scanner.scan(buf, this.at, end);
            if (e < 0) return -1;
            this.at = e;
            this.nodesLeft--;
          }
          this.phase = 'tail';
          this.tailEnd = this.at + this.tailEnd;
          continue;
        }
        case 'tail': {
          if (this.tailEnd < 0) {
            // Encrypted frame: the length follows the type byte.
            if (end - this.start < 5) return -1;
            const n = streamFrameLength(buf.subarray(this.start, this.start + 5));
            if (n > MAX_PUSH_STATE_BYTES) throw new WireError('limit', `encrypted stream message of ${n} bytes`);
            this.tailEnd = this.start + 5 + n;
          }
          if (this.tailEnd - this.start > this.maxBytes) throw new WireError('limit', `stream message over ${this.maxBytes} bytes`);
          return end >= this.tailEnd ? this.tailEnd : -1;
        }
        default:
          return -1;
      }
    }
  }
}
