/**
 * The read side of a {@link Stream}: chunks queued as they arrive and handed out one `read()` at a
 * time. Shared by the socket streams and the in-memory ones so both end, fail and pause alike.
 * @module
 */

import { RollcallError } from '../errors.js';
import type { Stream } from './transport.js';

type Waiter = { resolve(chunk: Uint8Array | null): void; reject(error: Error): void };

export class StreamInbox {
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #waiter: Waiter | undefined;
  /** Called when a read brought the buffer back under the high-water mark (resume the source). */
  onDrain: (() => void) | undefined;

  /** @param highWater bytes buffered before {@link full} says to stop reading from the source. */
  constructor(readonly highWater = 64 * 1024) {}

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.#buffered;
  }

  get full(): boolean {
    return this.#buffered >= this.highWater;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get failed(): boolean {
    return this.#error !== undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended || this.#error || chunk.length === 0) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The peer finished its side: reads return what is queued, then `null`. */
  end(): void {
    if (this.#ended || this.#error) return;
    this.#ended = true;
    const waiter = this.#waiter;
    if (waiter && this.#chunks.length === 0) {
      this.#waiter = undefined;
      waiter.resolve(null);
    }
  }

  /** The stream broke: queued data is discarded and every read rejects with `error`. */
  fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    this.#chunks.length = 0;
    this.#buffered = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }

  read(): Promise<Uint8Array | null> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#waiter) return Promise.reject(new RollcallError('INVALID_OPTIONS', 'a stream allows one read() at a time'));
    const chunk = this.#chunks.shift();
    if (chunk) {
      const wasFull = this.full;
      this.#buffered -= chunk.length;
      if (wasFull && !this.full) this.onDrain?.();
      return Promise.resolve(chunk);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.onDrain?.();
    });
  }
}

/** The error reads reject with once the local side destroyed the stream. */
export function destroyedError(stream: Pick<Stream, 'remote'>): RollcallError {
  return new RollcallError('CLOSED', `stream to ${stream.remote.host}:${stream.remote.port} was destroyed`);
}
