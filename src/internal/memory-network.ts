/**
 * An in-memory network of {@link Transport}s on a {@link SimulatedClock}, as memberlist's
 * mock_transport.go runs whole clusters without sockets, plus what a protocol must survive:
 * latency, seeded datagram loss, and partitions that heal. Streams stay reliable and ordered (as
 * TCP): across a partition their bytes wait and arrive once it heals, unless a side gives up first.
 * @module
 */

import { RollcallError } from '../errors.js';
import type { Timer } from './clock.js';
import type { SimulatedClock } from './simulated-clock.js';
import {
  type Address,
  type Datagram,
  formatAddress,
  type Stream,
  type Transport,
  type TransportHandlers,
  type TransportStats,
} from './transport.js';
import { destroyedError, StreamInbox } from './transport-inbox.js';

/** One-way delay in ms, fixed or per datagram/chunk (called again for each). */
export type Latency = number | ((from: Address, to: Address) => number);

export interface MemoryNetworkOptions {
  clock: SimulatedClock;
  /** Seed of the loss draws, so a failing run can be replayed. @default 1 */
  seed?: number;
  /** @default 0 */
  latency?: Latency;
  /** Share of datagrams dropped, 0..1 (streams never lose bytes). @default 0 */
  loss?: number;
}

/** What happened to the datagrams sent on the network so far. */
export interface MemoryNetworkStats {
  sent: number;
  delivered: number;
  /** Dropped by the loss draw. */
  lost: number;
  /** Dropped because a partition stood between sender and receiver (at send or at arrival). */
  partitioned: number;
  /** Sent to an address where no transport listens. */
  unreachable: number;
}

export class MemoryNetwork {
  readonly clock: SimulatedClock;
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, lost: 0, partitioned: 0, unreachable: 0 };
  readonly #transports = new Map<string, MemoryTransport>();
  readonly #cuts = new Set<string>();
  readonly #waitingForHeal = new Set<() => void>();
  #latency: Latency;
  #loss: number;
  #random: () => number;
  #nextHost = 1;
  #nextPort = 40000;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock;
    this.#latency = options.latency ?? 0;
    this.#loss = options.loss ?? 0;
    this.#random = mulberry32(options.seed ?? 1);
  }

  /** A transport at `address`, or at the next free `10.0.x.y:7946` (10.0.0.1, 10.0.0.2, ...). */
  createTransport(address?: Partial<Address>): MemoryTransport {
    const n = this.#nextHost++;
    const full: Address = { host: address?.host ?? `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, port: address?.port ?? 7946 };
    const key = formatAddress(full);
    if (this.#transports.has(key)) throw new RollcallError('CONFLICT', `${key} is already in use on this network; pick another port`);
    const transport = new MemoryTransport(this, full);
    this.#transports.set(key, transport);
    return transport;
  }

  setLatency(latency: Latency): void {
    this.#latency = latency;
  }

  setLoss(loss: number): void {
    this.#loss = loss;
  }

  /** Cuts every path between a host of `sideA` and a host of `sideB` (both directions). */
  partition(sideA: readonly Address[], sideB: readonly Address[]): void {
    for (const a of sideA) for (const b of sideB) this.#cuts.add(cutKey(a.host, b.host));
  }

  /** Removes every partition; stream bytes held by one go on their way. */
  heal(): void {
    this.#cuts.clear();
    const waiting = [...this.#waitingForHeal];
    this.#waitingForHeal.clear();
    for (const resume of waiting) resume();
  }

  isCut(a: Address, b: Address): boolean {
    return this.#cuts.size > 0 && this.#cuts.has(cutKey(a.host, b.host));
  }

  /** @internal */
  delay(from: Address, to: Address): number {
    const latency = typeof this.#latency === 'number' ? this.#latency : this.#latency(from, to);
    return Math.max(0, latency);
  }

  /** @internal */
  lookup(address: Address): MemoryTransport | undefined {
    return this.#transports.get(formatAddress(address));
  }

  /** @internal */
  forget(transport: MemoryTransport): void {
    this.#transports.delete(formatAddress(transport.address));
  }

  /** @internal A port for the dialling end of a stream, as a real connect gets one. */
  ephemeralPort(): number {
    this.#nextPort = this.#nextPort >= 60999 ? 40000 : this.#nextPort + 1;
    return this.#nextPort;
  }

  /** @internal */
  whenHealed(resume: () => void): void {
    this.#waitingForHeal.add(resume);
  }

  /** @internal */
  carry(data: Uint8Array, from: Address, to: Address): void {
    this.stats.sent++;
    if (this.#loss > 0 && this.#random() < this.#loss) {
      this.stats.lost++;
      return;
    }
    if (this.isCut(from, to)) {
      this.stats.partitioned++;
      return;
    }
    const copy = Uint8Array.from(data);
    this.clock.setTimeout(
      () => {
        if (this.isCut(from, to)) {
          this.stats.partitioned++;
          return;
        }
        const target = this.lookup(to);
        if (!target) {
          this.stats.unreachable++;
          return;
        }
        this.stats.delivered++;
        target.receive({ data: copy, from, receivedAt: this.clock.now() });
      },
      this.delay(from, to),
    );
  }
}

export class MemoryTransport implements Transport {
  readonly address: Address;
  readonly advertiseAddress: Address;
  readonly stats: TransportStats = { unhandled: 0 };
  readonly #network: MemoryNetwork;
  readonly #streams = new Set<MemoryStream>();
  #handlers: TransportHandlers | undefined;
  #closed = false;

  /** Use {@link MemoryNetwork.createTransport}. */
  constructor(network: MemoryNetwork, address: Address) {
    this.#network = network;
    this.address = address;
    this.advertiseAddress = address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  listen(handlers: TransportHandlers): void {
    this.#handlers = handlers;
  }

  send(data: Uint8Array, to: Address): Promise<number> {
    if (this.#closed) return Promise.reject(new RollcallError('CLOSED', 'transport is closed'));
    this.#network.carry(data, this.address, to);
    return Promise.resolve(this.#network.clock.now());
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#closed) return Promise.reject(new RollcallError('CLOSED', 'transport is closed'));
    const network = this.#network;
    const clock = network.clock;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timeout = clock.setTimeout(() => {
        settled = true;
        reject(new RollcallError('TIMEOUT', `connecting to ${formatAddress(to)} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      // The SYN travels one way; a partition swallows it, so only the timeout answers.
      clock.setTimeout(
        () => {
          if (settled || network.isCut(this.address, to)) return;
          const target = network.lookup(to);
          if (!target?.accepting) {
            clock.setTimeout(
              () => {
                if (settled) return;
                settled = true;
                timeout.cancel();
                reject(new RollcallError('UNAVAILABLE', `cannot connect to ${formatAddress(to)}: connection refused`));
              },
              network.delay(to, this.address),
            );
            return;
          }
          const [ours, theirs] = MemoryStream.pair(network, this.address, to);
          target.accept(theirs);
          // The handshake's answer travels back before the dialler may write.
          clock.setTimeout(
            () => {
              if (settled) {
                ours.destroy();
                return;
              }
              settled = true;
              timeout.cancel();
              if (this.#closed) {
                ours.destroy();
                reject(new RollcallError('CLOSED', 'transport is closed'));
                return;
              }
              this.#track(ours);
              resolve(ours);
            },
            network.delay(to, this.address),
          );
        },
        network.delay(this.address, to),
      );
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#network.forget(this);
    for (const stream of this.#streams) stream.destroy();
  }

  /** @internal */
  get accepting(): boolean {
    return !this.#closed;
  }

  /** @internal */
  receive(datagram: Datagram): void {
    const handlers = this.#handlers;
    if (!handlers || this.#closed) {
      this.stats.unhandled++;
      return;
    }
    handlers.datagram(datagram);
  }

  /** @internal */
  accept(stream: MemoryStream): void {
    const handlers = this.#handlers;
    if (!handlers || this.#closed) {
      this.stats.unhandled++;
      stream.destroy();
      return;
    }
    this.#track(stream);
    handlers.stream(stream);
  }

  #track(stream: MemoryStream): void {
    this.#streams.add(stream);
    stream.onClose = () => this.#streams.delete(stream);
  }
}

type Item = { data: Uint8Array } | { end: true } | { reset: true };

/** One direction of a stream: items leave in order, each no earlier than its latency allows. */
class Pipe {
  readonly #network: MemoryNetwork;
  readonly #from: Address;
  readonly #to: Address;
  readonly #queue: Array<{ item: Item; at: number }> = [];
  #lastAt = 0;
  #timer: Timer | undefined;
  #waiting = false;
  deliver: (item: Item) => void = () => {};

  constructor(network: MemoryNetwork, from: Address, to: Address) {
    this.#network = network;
    this.#from = from;
    this.#to = to;
  }

  push(item: Item): void {
    const clock = this.#network.clock;
    this.#lastAt = Math.max(clock.now() + this.#network.delay(this.#from, this.#to), this.#lastAt);
    this.#queue.push({ item, at: this.#lastAt });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#waiting || this.#queue.length === 0) return;
    if (this.#network.isCut(this.#from, this.#to)) {
      // TCP retransmits until the path is back; the receiving side's own timeout decides if that is too late.
      this.#waiting = true;
      this.#network.whenHealed(() => {
        this.#waiting = false;
        const now = this.#network.clock.now() + this.#network.delay(this.#from, this.#to);
        for (const entry of this.#queue) entry.at = Math.max(entry.at, now);
        this.#lastAt = Math.max(this.#lastAt, now);
        this.#schedule();
      });
      return;
    }
    const clock = this.#network.clock;
    const head = this.#queue[0] as { at: number };
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, head.at - clock.now());
  }

  #flush(): void {
    const now = this.#network.clock.now();
    while (this.#queue.length > 0 && (this.#queue[0] as { at: number }).at <= now) {
      if (this.#network.isCut(this.#from, this.#to)) break;
      this.deliver((this.#queue.shift() as { item: Item }).item);
    }
    this.#schedule();
  }
}

class MemoryStream implements Stream {
  readonly local: Address;
  readonly remote: Address;
  readonly #inbox = new StreamInbox();
  #out!: Pipe;
  #ended = false;
  #destroyed = false;
  onClose: (() => void) | undefined;

  private constructor(local: Address, remote: Address) {
    this.local = local;
    this.remote = remote;
  }

  /** Two connected ends: what `a` writes, `b` reads after the latency from `a` to `b`, and back. */
  static pair(network: MemoryNetwork, a: Address, b: Address): [MemoryStream, MemoryStream] {
    const aLocal = { host: a.host, port: network.ephemeralPort() };
    const ours = new MemoryStream(aLocal, b);
    const theirs = new MemoryStream(b, aLocal);
    const ab = new Pipe(network, a, b);
    const ba = new Pipe(network, b, a);
    ours.#out = ab;
    theirs.#out = ba;
    ab.deliver = (item) => theirs.#receive(item);
    ba.deliver = (item) => ours.#receive(item);
    return [ours, theirs];
  }

  get closed(): boolean {
    return this.#destroyed || this.#inbox.failed || (this.#ended && this.#inbox.ended);
  }

  read(): Promise<Uint8Array | null> {
    return this.#inbox.read();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#destroyed || this.#ended) return Promise.reject(destroyedError(this));
    this.#out.push({ data: Uint8Array.from(data) });
    return Promise.resolve();
  }

  end(): Promise<void> {
    if (!this.#destroyed && !this.#ended) {
      this.#ended = true;
      this.#out.push({ end: true });
      this.#maybeClosed();
    }
    return Promise.resolve();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#inbox.fail(destroyedError(this));
    this.#out.push({ reset: true });
    this.onClose?.();
  }

  #receive(item: Item): void {
    if (this.#destroyed) return;
    if ('data' in item) this.#inbox.push(item.data);
    else if ('end' in item) {
      this.#inbox.end();
      this.#maybeClosed();
    } else {
      this.#inbox.fail(new RollcallError('UNAVAILABLE', `stream to ${formatAddress(this.remote)} was reset by the peer`));
      this.#destroyed = true;
      this.onClose?.();
    }
  }

  #maybeClosed(): void {
    if (this.#ended && this.#inbox.ended) this.onClose?.();
  }
}

function cutKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same loss pattern on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
