/**
 * Reads memberlist stream messages as their bytes arrive. A plain stream message carries no length
 * prefix, so its end is found by scanning msgpack values one by one; every read is charged to a
 * byte budget, so a peer cannot make us buffer more than the largest legal message.
 * @module
 */

import type { Stream } from '../../internal/transport.js';
import { WireError } from './wire/errors.js';
import { ValueScanner } from './wire/msgpack.js';

/** Why a stream read ended without a message (besides a {@link WireError}). */
export class StreamEndError extends Error {
  constructor(readonly reason: 'eof' | 'closed') {
    super(reason === 'eof' ? 'stream ended inside a message' : 'stream closed');
  }
}

export class StreamReader {
  readonly #stream: Stream;
  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  #budget: number;
  #eof = false;
  readonly #scanner = new ValueScanner();

  /** @param budget the most bytes this reader may take off the stream in total. */
  constructor(stream: Stream, budget: number) {
    this.#stream = stream;
    this.#budget = budget;
  }

  /** Bytes buffered and not consumed yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Raises or lowers what may still be read (a message type may allow more than the first byte did). */
  setBudget(bytes: number): void {
    this.#budget = bytes;
  }

  /** The next byte, not consumed; `undefined` when the stream ended cleanly before it. */
  async peek(): Promise<number | undefined> {
    if (this.buffered === 0 && !(await this.#fill())) return undefined;
    return this.#buf[this.#start];
  }

  async byte(): Promise<number> {
    await this.#need(1);
    return this.#buf[this.#start++] as number;
  }

  /** Exactly `n` bytes (a copy the caller may keep). `n` must already be checked against a limit. */
  async exactly(n: number): Promise<Uint8Array> {
    await this.#need(n);
    const out = Buffer.from(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    return out;
  }

  /** The bytes of the next complete msgpack value (a view, valid until the next read). */
  async value(): Promise<Uint8Array> {
    // The scanner resumes at absolute offsets: start the value at 0, where compaction never moves it.
    this.#compact();
    this.#scanner.reset();
    for (;;) {
      const end = this.#scanner.scan(this.#buf, this.#start, this.#end);
      if (end >= 0) {
        const out = this.#buf.subarray(this.#start, end);
        this.#start = end;
        return out;
      }
      if (!(await this.#fill())) throw new StreamEndError('eof');
    }
  }

  async #need(n: number): Promise<void> {
    while (this.buffered < n) {
      if (!(await this.#fill())) throw new StreamEndError('eof');
    }
  }

  /** Appends the next chunk; false at a clean end of stream. */
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
    if (chunk.length > this.#budget) throw new WireError('limit', 'stream message is larger than the limit for its type');
    this.#budget -= chunk.length;
    this.#append(chunk);
    return true;
  }

  #compact(): void {
    if (this.#start === 0) return;
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      this.#compact();
      if (this.#end + chunk.length > this.#buf.length) {
        // Grow with what has arrived, doubled: memory follows received bytes, never a claimed length.
        const next = Buffer.allocUnsafe(Math.max(4096, 2 * (this.#end + chunk.length)));
        this.#buf.copy(next, 0, 0, this.#end);
        this.#buf = next;
      }
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}
