/**
 * The real {@link Transport}: UDP datagrams and TCP streams on one port number, as memberlist's
 * NetTransport binds them (net_transport.go), because peers reach us on both with one advertised
 * address. IPv4 and IPv6; binding a wildcard needs an explicit or discoverable advertise address.
 * @module
 */

import type { Socket as DatagramSocket } from 'node:dgram';
import { isIP, isIPv6, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { RollcallError } from '../errors.js';
import { bindUdp, listenTcp } from './bind.js';
import type { Clock } from './clock.js';
import { listInterfaces } from './interfaces.js';
import {
  type Address,
  formatAddress,
  type Stream,
  type Transport,
  type TransportHandlers,
  type TransportStats,
  unmapIPv4,
} from './transport.js';
import { destroyedError, StreamInbox } from './transport-inbox.js';

export interface NetTransportOptions {
  /** The IP literal to bind (`0.0.0.0` or `::` for every interface). */
  host: string;
  /** The port for both UDP and TCP; 0 picks one that is free for both. */
  port: number;
  clock: Clock;
  /** The address to tell peers; required in practice when `host` is a wildcard on a multi-homed machine. */
  advertise?: Address;
  /**
   * Socket receive buffer asked for UDP, so a burst of gossip is queued rather than dropped.
   * @default 2097152 (memberlist's udpRecvBufSize; the system may grant less)
   */
  udpReceiveBufferSize?: number;
  /** Bytes a stream buffers before it stops reading from its socket. @default 65536 */
  streamHighWater?: number;
}

/** How often port 0 is retried when the TCP port the system chose is taken for UDP (memberlist tries 10 times too). */
const PORT_ZERO_ATTEMPTS = 10;

/** Binds UDP and TCP on one port and returns the transport, or rejects with a RollcallError naming the remedy. */
export async function bindNetTransport(options: NetTransportOptions): Promise<NetTransport> {
  const { host, port } = options;
  if (isIP(host) === 0) {
    throw new RollcallError(
      'INVALID_OPTIONS',
      `bind address "${host}" is not an IP literal (use 0.0.0.0, ::, or one of this machine's addresses)`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RollcallError('INVALID_OPTIONS', `bind port ${port} is not an integer in 0..65535`);
  }
  for (let attempt = 1; ; attempt++) {
    const server = await listenTcp(host, port);
    const boundPort = (server.address() as { port: number }).port;
    try {
      const udp = await bindUdp({ host, port: boundPort, exclusive: true });
      return new NetTransport(options, server, udp, { host, port: boundPort });
    } catch (error) {
      server.close();
      // With port 0 the system chose a TCP port whose UDP twin is taken: ask for another.
      if (port === 0 && (error as RollcallError).code === 'CONFLICT' && attempt < PORT_ZERO_ATTEMPTS) continue;
      throw error;
    }
  }
}

export class NetTransport implements Transport {
  readonly address: Address;
  readonly advertiseAddress: Address;
  readonly stats: TransportStats = { unhandled: 0 };
  readonly #clock: Clock;
  readonly #server: Server;
  readonly #udp: DatagramSocket;
  /** An IPv6 socket reaches IPv4 peers at their mapped address; read once, not per datagram. */
  readonly #udp6: boolean;
  readonly #streams = new Set<SocketStream>();
  readonly #highWater: number;
  #handlers: TransportHandlers | undefined;
  #closed = false;

  /** Use {@link bindNetTransport}: binding is asynchronous and may need retries. */
  constructor(options: NetTransportOptions, server: Server, udp: DatagramSocket, address: Address) {
    this.#clock = options.clock;
    this.#server = server;
    this.#udp = udp;
    this.#udp6 = udp.address().family === 'IPv6';
    this.#highWater = options.streamHighWater ?? 64 * 1024;
    this.address = address;
    this.advertiseAddress = options.advertise ?? advertiseFor(address);
    try {
      udp.setRecvBufferSize(options.udpReceiveBufferSize ?? 2 * 1024 * 1024);
    } catch {
      // The system refused the size; its default buffer still works, only bursts drop earlier.
    }
    udp.on('message', (data, info) => {
      const receivedAt = this.#clock.now();
      const handlers = this.#handlers;
      if (!handlers || this.#closed) {
        this.stats.unhandled++;
        return;
      }
      handlers.datagram({ data, from: { host: unmapIPv4(info.address), port: info.port }, receivedAt });
    });
    // Errors on an unconnected UDP socket (ICMP unreachable) say nothing about our socket: ignore them.
    udp.on('error', () => {});
    server.on('connection', (socket) => {
      const handlers = this.#handlers;
      if (!handlers || this.#closed) {
        this.stats.unhandled++;
        socket.destroy();
        return;
      }
      handlers.stream(this.#track(socket));
    });
    server.on('error', () => {});
  }

  listen(handlers: TransportHandlers): void {
    this.#handlers = handlers;
  }

  send(data: Uint8Array, to: Address): Promise<number> {
    if (this.#closed) return Promise.reject(new RollcallError('CLOSED', 'transport is closed'));
    const host = this.#udp6 && !isIPv6(to.host) ? `::ffff:${to.host}` : to.host;
    return new Promise((resolve, reject) => {
      this.#udp.send(data, to.port, host, (error) => {
        if (error)
          reject(new RollcallError('UNAVAILABLE', `cannot send a datagram to ${formatAddress(to)}: ${error.message}`, { cause: error }));
        else resolve(this.#clock.now());
      });
    });
  }

  /**
   * Streams leave from the bound address, as datagrams do, so a peer sees one address per member
   * and a firewall rule on it covers both; a wildcard bind, or a peer of the other family, leaves
   * the choice to the routing table.
   */
  #streamSource(to: Address): string | undefined {
    const host = this.address.host;
    if (host === '0.0.0.0' || host === '::' || isIP(to.host) === 0) return undefined;
    return isIPv6(host) === isIPv6(to.host) ? host : undefined;
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#closed) return Promise.reject(new RollcallError('CLOSED', 'transport is closed'));
    return new Promise((resolve, reject) => {
      // Half-open: a peer that ended its request still reads our answer.
      const socket = tcpConnect({ host: to.host, port: to.port, allowHalfOpen: true, localAddress: this.#streamSource(to) });
      const timer = this.#clock.setTimeout(() => {
        socket.destroy();
        reject(new RollcallError('TIMEOUT', `connecting to ${formatAddress(to)} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        timer.cancel();
        socket.removeAllListeners('error');
        if (this.#closed) {
          socket.destroy();
          reject(new RollcallError('CLOSED', 'transport is closed'));
          return;
        }
        resolve(this.#track(socket));
      });
      socket.once('error', (error) => {
        timer.cancel();
        reject(new RollcallError('UNAVAILABLE', `cannot connect to ${formatAddress(to)}: ${error.message}`, { cause: error }));
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams) stream.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.#server.close(() => resolve())),
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
    ]);
  }

  /** Streams open right now (accepted and dialled). */
  get openStreams(): number {
    return this.#streams.size;
  }

  #track(socket: Socket): SocketStream {
    const stream = new SocketStream(socket, this.#highWater);
    this.#streams.add(stream);
    socket.once('close', () => this.#streams.delete(stream));
    return stream;
  }
}

/** A {@link Stream} over a TCP socket that pauses the socket while its inbox is full. */
class SocketStream implements Stream {
  readonly local: Address;
  readonly remote: Address;
  readonly #socket: Socket;
  readonly #inbox: StreamInbox;
  #destroyed = false;

  constructor(socket: Socket, highWater: number) {
    this.#socket = socket;
    this.#inbox = new StreamInbox(highWater);
    socket.setNoDelay(true);
    this.local = { host: unmapIPv4(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    this.remote = { host: unmapIPv4(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    this.#inbox.onDrain = () => {
      if (!this.#destroyed) socket.resume();
    };
    socket.on('data', (chunk: Buffer) => {
      this.#inbox.push(chunk);
      if (this.#inbox.full) socket.pause();
    });
    socket.on('end', () => this.#inbox.end());
    socket.on('error', (error) =>
      this.#inbox.fail(
        new RollcallError('UNAVAILABLE', `stream to ${formatAddress(this.remote)} failed: ${error.message}`, { cause: error }),
      ),
    );
    // A close after the peer's end leaves the queued tail readable; any other close is a failure.
    socket.on('close', () => {
      if (!this.#inbox.ended) this.#inbox.fail(destroyedError(this));
    });
  }

  get closed(): boolean {
    return this.#destroyed || this.#socket.destroyed;
  }

  read(): Promise<Uint8Array | null> {
    return this.#inbox.read();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(destroyedError(this));
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (error) =>
        error
          ? reject(new RollcallError('UNAVAILABLE', `writing to ${formatAddress(this.remote)} failed: ${error.message}`, { cause: error }))
          : resolve(),
      );
    });
  }

  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#inbox.fail(destroyedError(this));
    this.#socket.destroy();
  }
}

/**
 * The bound address, or for a wildcard the first private address of this machine of the same
 * family (memberlist#282: advertising 0.0.0.0 makes every peer talk to itself).
 */
function advertiseFor(bound: Address): Address {
  if (bound.host !== '0.0.0.0' && bound.host !== '::') return bound;
  for (const { v4, v6 } of listInterfaces({ multicast: false })) {
    const routable = v6.find((a) => !/^fe80:/i.test(a.address));
    const address = v4[0]?.address ?? (bound.host === '::' ? routable?.address : undefined);
    if (address) return { host: address, port: bound.port };
  }
  throw new RollcallError(
    'INVALID_OPTIONS',
    `bound to ${bound.host} but this machine has no non-loopback address to advertise; pass an advertise address`,
  );
}
