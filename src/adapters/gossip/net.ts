/**
 * memberlist's net layer (net.go) over the transport seam: the receive path for packets (label,
 * decrypt, CRC, then compound and compression unwrapped down to the handlers) and for streams
 * (push/pull as callee, TCP fallback ping, stream user messages), and the send side of both.
 * Membership state is not kept here: what a message means is the {@link NetHandlers}' business.
 * @module
 */

import { isRollcallError, RollcallError } from '../../errors.js';
import type { Clock, Timer } from '../../internal/clock.js';
import type { Address, Datagram, Stream, Transport } from '../../internal/transport.js';
import { addressFromWire } from './net-address.js';
import { createNetStats, NetDrop, type NetDropReason, type NetStats } from './net-stats.js';
import { readStreamMessage, writeStreamMessage } from './net-stream.js';
import { type ReadBudget, StreamEndError, StreamReader } from './net-stream-reader.js';
import { encodeCompounds } from './wire/compound.js';
import { isWireError, WireError } from './wire/errors.js';
import { labelHeader } from './wire/label.js';
import { decodePacket, encodePacket, unpackMessages, type WireLayers } from './wire/layers.js';
import { MAX_PUSH_PULL_REQUESTS } from './wire/limits.js';
import {
  type Ack,
  type Alive,
  type Dead,
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushPull,
  decodeSuspect,
  decodeUserStream,
  encodeAck,
  encodeErr,
  encodePing,
  encodePushPull,
  encodeUserStream,
  type IndirectPing,
  MessageType,
  type Nack,
  type Ping,
  type PushPull,
  type Suspect,
} from './wire/messages.js';

/** What the membership layer does with what arrives. Every handler is optional except the push/pull pair. */
export interface NetHandlers {
  /** Our state for a push/pull (nodes and delegate user state). */
  localState(join: boolean): Omit<PushPull, 'join'>;
  /** Merges a peer's push/pull state; throwing refuses it (memberlist's verifyProtocol / merge delegate). */
  mergeRemoteState(remote: PushPull): void;
  /** The payload our acks carry (memberlist's PingDelegate.AckPayload). */
  ackPayload?(): Uint8Array;
  /** The protocol max of the node at `address`, when known: CRC is added for PMax >= 5. */
  protocolMax?(address: Address): number | undefined;
  ack?(ack: Ack, from: Address, receivedAt: number): void;
  nack?(nack: Nack, from: Address): void;
  indirectPing?(ping: IndirectPing, from: Address): void;
  alive?(alive: Alive, from: Address): void;
  suspect?(suspect: Suspect, from: Address): void;
  dead?(dead: Dead, from: Address): void;
  user?(payload: Uint8Array, from: Address): void;
}

export interface NetOptions {
  transport: Transport;
  clock: Clock;
  layers: WireLayers;
  handlers: NetHandlers;
  /** Our node name: a ping naming another node is not answered (memberlist does the same). */
  name: string;
  /**
   * How long a stream may take to deliver its request and take our answer (memberlist TCPTimeout).
   * @default 10000
   */
  streamTimeout?: number;
  /** Concurrent push/pulls served; more are refused. @default 128 (memberlist maxPushPullRequests) */
  maxPushPulls?: number;
  /**
   * Bytes all streams together may buffer while their messages arrive (each message may be up to
   * the 20 MiB push/pull limit, so this bounds how many large ones are read at once).
   * @default 67108864
   */
  streamBufferBytes?: number;
  /**
   * Accepted streams that have not finished sending their request; past this the oldest is cut,
   * so idle connections cannot pile up until the stream timeout.
   * @default 256
   */
  maxPendingStreams?: number;
}

export class Net {
  readonly stats: NetStats = createNetStats();
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #layers: WireLayers;
  readonly #labelHeader: Uint8Array;
  readonly #handlers: NetHandlers;
  readonly #name: string;
  readonly #streamTimeout: number;
  readonly #maxPushPulls: number;
  readonly #maxPending: number;
  /** Streams still reading their request, oldest first (a Set keeps insertion order). */
  readonly #pending = new Set<Stream>();
  readonly #open = new Set<Stream>();
  #pushPulls = 0;
  #closed = false;
  readonly #readBudget: ReadBudget;

  constructor(options: NetOptions) {
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#layers = options.layers;
    this.#labelHeader = labelHeader(options.layers.label);
    this.#handlers = options.handlers;
    this.#name = options.name;
    this.#streamTimeout = options.streamTimeout ?? 10_000;
    this.#maxPushPulls = options.maxPushPulls ?? MAX_PUSH_PULL_REQUESTS;
    this.#maxPending = options.maxPendingStreams ?? 256;
    this.#readBudget = { available: options.streamBufferBytes ?? 64 * 1024 * 1024 };
    this.#transport.listen({ datagram: (d) => this.#onDatagram(d), stream: (s) => this.#onStream(s) });
  }

  /** Streams open right now, both directions. */
  get openStreams(): number {
    return this.#open.size;
  }

  /** Sends one message in a packet with every configured layer. Best effort: failures are not thrown. */
  async sendPacket(to: Address, message: Uint8Array): Promise<void> {
    const packet = encodePacket(message, this.#layers, (this.#handlers.protocolMax?.(to) ?? 0) >= 5);
    try {
      await this.#transport.send(packet, to);
      this.stats.packetsSent++;
    } catch {
      // A datagram that cannot leave is a lost datagram: the protocol's retries cover it.
    }
  }

  /** Sends several messages, packed into compounds of at most 255 (the caller keeps each packet under the MTU). */
  async sendMessages(to: Address, messages: readonly Uint8Array[]): Promise<void> {
    if (messages.length === 1) return this.sendPacket(to, messages[0] as Uint8Array);
    for (const compound of encodeCompounds(messages)) await this.sendPacket(to, compound);
  }

  /**
   * Push/pull as the caller (join or anti-entropy): sends our state, reads the peer's and hands it
   * to `mergeRemoteState`. Rejects with `UNAVAILABLE`/`TIMEOUT` for the network, `BAD_RESPONSE` for the peer.
   */
  async pushPull(to: Address, join: boolean): Promise<PushPull> {
    return this.#withDialedStream(to, async (stream, reader) => {
      const local = this.#handlers.localState(join);
      await writeStreamMessage(stream, encodePushPull({ join, ...local }), this.#layers);
      const message = await readStreamMessage(reader, this.#layers);
      if (message.type === MessageType.err) {
        const { error } = decodeErr(message.body);
        throw new RollcallError('UNAVAILABLE', `push/pull refused by ${to.host}:${to.port}: ${error}`, { adapter: 'gossip' });
      }
      if (message.type !== MessageType.pushPull) throw new WireError('unsupported', `push/pull answered with message type ${message.type}`);
      const remote = decodePushPull(message.body);
      this.#handlers.mergeRemoteState(remote);
      this.stats.pushPulls++;
      return remote;
    });
  }

  /**
   * A user message over a stream (memberlist SendReliable): for payloads larger than a packet.
   * Rejects with `UNAVAILABLE`/`TIMEOUT` when the peer cannot be reached.
   */
  async sendUserStream(to: Address, payload: Uint8Array): Promise<void> {
    await this.#withDialedStream(to, async (stream) => {
      await writeStreamMessage(stream, encodeUserStream(payload), this.#layers);
      await stream.end();
    });
  }

  /** TCP fallback ping (memberlist sendPingAndWaitForAck): true when the matching ack came back in time. */
  async pingStream(to: Address, ping: Ping, timeoutMs = this.#streamTimeout): Promise<boolean> {
    try {
      return await this.#withDialedStream(
        to,
        async (stream, reader) => {
          await writeStreamMessage(stream, encodePing(ping), this.#layers);
          const message = await readStreamMessage(reader, this.#layers);
          if (message.type !== MessageType.ack) throw new NetDrop('unexpected', `ping answered with message type ${message.type}`);
          return decodeAck(message.body).seqNo === ping.seqNo;
        },
        timeoutMs,
      );
    } catch (error) {
      // Unreachable, silent or garbled: a failed probe either way (drops are already counted).
      if (isRollcallError(error) || error instanceof NetDrop) return false;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const stream of this.#open) stream.destroy();
    await this.#transport.close();
  }

  // --- packets ---

  #onDatagram(datagram: Datagram): void {
    this.stats.packetsReceived++;
    let unpacked: ReturnType<typeof unpackMessages>;
    try {
      unpacked = unpackMessages(decodePacket(datagram.data, this.#layers));
    } catch (error) {
      this.#drop(error);
      return;
    }
    this.stats.dropped.truncated += unpacked.truncated;
    for (const message of unpacked.messages) {
      // One bad message does not cost the others of its compound, as in memberlist's handleCompound.
      try {
        this.#handleMessage(message, datagram.from, datagram.receivedAt);
      } catch (error) {
        this.#drop(error);
      }
    }
  }

  #handleMessage(message: Uint8Array, from: Address, receivedAt: number): void {
    const body = message.subarray(1);
    const h = this.#handlers;
    switch (message[0]) {
      case MessageType.ping:
        this.#answerPing(decodePing(body), from);
        return;
      case MessageType.indirectPing:
        h.indirectPing?.(decodeIndirectPing(body), from);
        return;
      case MessageType.ack:
        h.ack?.(decodeAck(body), from, receivedAt);
        return;
      case MessageType.nack:
        h.nack?.(decodeNack(body), from);
        return;
      case MessageType.alive:
        h.alive?.(decodeAlive(body), from);
        return;
      case MessageType.suspect:
        h.suspect?.(decodeSuspect(body), from);
        return;
      case MessageType.dead:
        h.dead?.(decodeDead(body), from);
        return;
      case MessageType.user:
        h.user?.(Uint8Array.from(body), from);
        return;
      default:
        throw new WireError('unsupported', `message type ${message[0]} in a packet`);
    }
  }

  #answerPing(ping: Ping, from: Address): void {
    if (ping.node !== '' && ping.node !== this.#name) throw new NetDrop('unexpected', `ping for node "${ping.node}"`);
    const to = replyAddress(ping, from);
    void this.sendPacket(to, encodeAck({ seqNo: ping.seqNo, payload: this.#handlers.ackPayload?.() ?? new Uint8Array(0) }));
  }

  // --- streams ---

  #onStream(stream: Stream): void {
    this.stats.streamsAccepted++;
    if (this.#closed) {
      stream.destroy();
      return;
    }
    this.#open.add(stream);
    this.#pending.add(stream);
    if (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.values().next().value as Stream;
      this.#pending.delete(oldest);
      this.stats.dropped.evicted++;
      oldest.destroy();
    }
    const timer = this.#streamTimer(stream);
    this.#serve(stream, timer).finally(() => {
      timer.timer.cancel();
      this.#pending.delete(stream);
      this.#open.delete(stream);
      stream.destroy();
    });
  }

  async #serve(stream: Stream, timer: { timer: Timer; fired: boolean }): Promise<void> {
    const reader = new StreamReader(stream, this.#readBudget);
    let slot = false;
    try {
      if (!(await reader.started())) return;
      await reader.label(this.#layers.label);
      // A plain push/pull takes its slot at its type byte, as memberlist counts it, before its state is read.
      if ((await reader.peek()) === MessageType.pushPull) slot = this.#takePushPullSlot();
      const message = await readStreamMessage(reader, this.#layers);
      this.#pending.delete(stream);
      switch (message.type) {
        case MessageType.ping: {
          const ping = decodePing(message.body);
          if (ping.node !== '' && ping.node !== this.#name) throw new NetDrop('unexpected', `ping for node "${ping.node}"`);
          const ack = encodeAck({ seqNo: ping.seqNo, payload: this.#handlers.ackPayload?.() ?? new Uint8Array(0) });
          await writeStreamMessage(stream, ack, this.#layers);
          await stream.end();
          return;
        }
        case MessageType.pushPull: {
          slot ||= this.#takePushPullSlot();
          const remote = decodePushPull(message.body);
          reader.release();
          const local = this.#handlers.localState(remote.join);
          await writeStreamMessage(stream, encodePushPull({ join: remote.join, ...local }), this.#layers);
          await stream.end();
          this.#handlers.mergeRemoteState(remote);
          this.stats.pushPulls++;
          return;
        }
        case MessageType.user:
          this.#handlers.user?.(decodeUserStream(message.body), stream.remote);
          return;
        default:
          throw new NetDrop('unexpected', `message type ${message.type} on a stream`);
      }
    } catch (error) {
      if (timer.fired) return;
      if (error instanceof StreamEndError && error.reason === 'eof') return;
      this.#drop(error);
      // Tell a peer what was wrong with its request, as memberlist does; a broken stream hears nothing.
      if (isWireError(error) && !stream.closed) {
        await writeStreamMessage(stream, encodeErr({ error: error.message }), this.#layers).catch(() => {});
      }
    } finally {
      reader.release();
      if (slot) this.#pushPulls--;
    }
  }

  /** Takes one of the concurrent push/pull slots, or throws `busy` (memberlist closes such streams unanswered). */
  #takePushPullSlot(): true {
    if (this.#pushPulls >= this.#maxPushPulls) throw new NetDrop('busy', 'too many push/pulls at once');
    this.#pushPulls++;
    return true;
  }

  #streamTimer(stream: Stream): { timer: Timer; fired: boolean } {
    const state = { fired: false, timer: undefined as unknown as Timer };
    state.timer = this.#clock.setTimeout(() => {
      state.fired = true;
      this.stats.dropped.timeout++;
      stream.destroy();
    }, this.#streamTimeout);
    return state;
  }

  async #withDialedStream<T>(
    to: Address,
    use: (stream: Stream, reader: StreamReader) => Promise<T>,
    timeoutMs = this.#streamTimeout,
  ): Promise<T> {
    const started = this.#clock.now();
    const stream = await this.#transport.dial(to, timeoutMs);
    this.stats.streamsDialed++;
    this.#open.add(stream);
    let timedOut = false;
    const timer = this.#clock.setTimeout(
      () => {
        timedOut = true;
        stream.destroy();
      },
      timeoutMs - (this.#clock.now() - started),
    );
    const reader = new StreamReader(stream, this.#readBudget);
    try {
      if (this.#labelHeader.length > 0) await stream.write(this.#labelHeader);
      return await use(stream, reader);
    } catch (error) {
      if (timedOut)
        throw new RollcallError('TIMEOUT', `stream to ${to.host}:${to.port} took more than ${timeoutMs} ms`, { adapter: 'gossip' });
      if (error instanceof StreamEndError) {
        throw new RollcallError('UNAVAILABLE', `stream to ${to.host}:${to.port} ended early (${error.message})`, { adapter: 'gossip' });
      }
      if (isWireError(error) || error instanceof NetDrop) this.#drop(error);
      throw error;
    } finally {
      reader.release();
      timer.cancel();
      this.#open.delete(stream);
      stream.destroy();
    }
  }

  #drop(error: unknown): void {
    let reason: NetDropReason;
    if (isWireError(error)) reason = error.reason;
    else if (error instanceof NetDrop) reason = error.reason;
    else if (error instanceof StreamEndError) reason = 'closed';
    else if (isRollcallError(error) && error.code === 'CLOSED') reason = 'closed';
    else {
      // Input from the network must never take the process down, whatever a handler does with it.
      reason = 'handler';
      this.stats.lastHandlerError = error;
    }
    this.stats.dropped[reason]++;
  }
}

/** Where an ack goes: the ping's source fields when it carries them (memberlist >= 0.2), else the packet's sender. */
function replyAddress(ping: Ping, from: Address): Address {
  if (ping.sourceAddr && ping.sourcePort) return addressFromWire(ping.sourceAddr, ping.sourcePort) ?? from;
  return from;
}
