/**
 * Reads whole stream messages off a {@link Stream} as their bytes arrive. Stream messages carry no
 * length prefix unless encrypted, so the wire's {@link StreamFramer} finds each end from the
 * msgpack structure; this class only keeps the bytes, grown with what arrived (never with what a
 * header claims), and refuses a message larger than the framer's limit before it is complete.
 * @module
 */

import type { Stream } from '../../internal/transport.js';
import { NetDrop } from './net-stats.js';
import { StreamFramer } from './wire/frame.js';
import { checkLabel, readLabel } from './wire/label.js';
import { MAX_PUSH_STATE_BYTES } from './wire/limits.js';

/** Why a stream gave no message: it ended cleanly (`eof`), inside a message, or broke. */
export class StreamEndError extends Error {
  constructor(readonly reason: 'eof' | 'partial' | 'closed') {
    super(reason === 'eof' ? 'stream ended' : reason === 'partial' ? 'stream ended inside a message' : 'stream broke');
  }
}

/** Largest stream message: the push/pull state limit plus its framing. */
export const STREAM_MESSAGE_LIMIT = MAX_PUSH_STATE_BYTES + 64 * 1024;

/** Bytes all streams of a node may hold at once while their messages arrive. */
export interface ReadBudget {
  available: number;
}

export class StreamReader {
  readonly #stream: Stream;
  readonly #budget: ReadBudget;
  #charged = 0;
  readonly #framer = new StreamFramer(STREAM_MESSAGE_LIMIT);
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #eof = false;

  /** @param budget shared by every stream of a node, so many slow large messages cannot add up. */
  constructor(stream: Stream, budget: ReadBudget) {
    this.#stream = stream;
    this.#budget = budget;
  }

  /** Waits for the first byte; false when the stream ended without sending any. */
  async started(): Promise<boolean> {
    return this.#end > this.#start || (await this.#fill());
  }

  /** Reads the label header the stream opens with (if any) and checks it is `expected`. */
  async label(expected: Uint8Array): Promise<void> {
    for (;;) {
      const read = readLabel(this.#buf.subarray(this.#start, this.#end), this.#eof);
      if (read) {
        checkLabel(read.label, expected);
        this.#start += read.consumed;
        return;
      }
      if (!(await this.#fill())) throw new StreamEndError('partial');
    }
  }

  /** The first byte of the next message (its type, or 10 when encrypted), not consumed. */
  async peek(): Promise<number> {
    if (this.#end === this.#start && !(await this.#fill())) throw new StreamEndError('partial');
    return this.#buf[this.#start] as number;
  }

  /** The next whole message as framed on the wire (still encrypted or compressed); a view until the next read. */
  async frame(): Promise<Uint8Array> {
    this.#compact();
    for (;;) {
      const end = this.#framer.next(this.#buf, this.#start, this.#end);
      if (end >= 0) {
        const out = this.#buf.subarray(this.#start, end);
        this.#start = end;
        return out;
      }
      if (!(await this.#fill())) throw new StreamEndError(this.#end > this.#start ? 'partial' : 'eof');
    }
  }

  /** Gives back what this reader took from the shared budget; call once the stream is done. */
  release(): void {
    this.#budget.available += this.#charged;
    this.#charged = 0;
    this.#buf = new Uint8Array(0);
    this.#start = 0;
    this.#end = 0;
  }

  /** Appends the next chunk; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    let chunk: Uint8Array | null;
    try {
      chunk = await this.#stream.read();
    } catch {
      throw new StreamEndError('closed');
    }
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    if (chunk.length > this.#budget.available) throw new NetDrop('busy', 'stream buffers of this node are full');
    this.#budget.available -= chunk.length;
    this.#charged += chunk.length;
    this.#append(chunk);
    return true;
  }

  // The framer resumes at absolute offsets, so a message in progress never moves: compaction
  // happens only between messages, and growth copies from offset 0.
  #compact(): void {
    if (this.#start === 0) return;
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      // Doubling what has arrived: memory follows received bytes, never a claimed length.
      const next = new Uint8Array(Math.max(4096, 2 * (this.#end + chunk.length)));
      next.set(this.#buf.subarray(0, this.#end));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}
