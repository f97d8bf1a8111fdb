/**
 * The datagram and stream seam under gossip, shaped like memberlist's `Transport` (transport.go):
 * best-effort datagrams with a source address and a receive time, reliable streams dialled with a
 * timeout or accepted, and the address to advertise. Protocol code sees only this interface, so the
 * same code runs on real sockets ({@link "internal/transport-net"}) and on the in-memory network of
 * the tests ({@link "internal/memory-network"}).
 * @module
 */

import { isIPv6 } from 'node:net';

/** A peer's IP address and port (UDP and TCP share the port). */
export interface Address {
  /** An IPv4 or IPv6 literal, never a host name: gossip advertises addresses, not names. */
  readonly host: string;
  readonly port: number;
}

/** One datagram as it arrived. */
export interface Datagram {
  readonly data: Uint8Array;
  readonly from: Address;
  /** The clock reading on arrival, taken as close to the socket as possible for round-trip times. */
  readonly receivedAt: number;
}

/**
 * A reliable, ordered byte stream. Reading is pulled, so a peer that sends faster than we parse
 * fills only a bounded buffer: the transport stops reading from the socket until we catch up.
 */
export interface Stream {
  readonly local: Address;
  readonly remote: Address;
  /** The next chunk, or `null` once the peer ended its side. Rejects if the stream failed or was destroyed. */
  read(): Promise<Uint8Array | null>;
  /** Sends bytes; resolves once they are handed to the network. */
  write(data: Uint8Array): Promise<void>;
  /** Ends our side after everything written so far; the peer reads `null` after it. */
  end(): Promise<void>;
  /** Tears the stream down both ways; pending and later reads reject. Safe to call twice. */
  destroy(): void;
  /** True once destroyed, failed, or ended both ways. */
  readonly closed: boolean;
}

/** What a transport hands incoming traffic to. */
export interface TransportHandlers {
  datagram(datagram: Datagram): void;
  /** The handler owns the stream from here: it must end or destroy it. */
  stream(stream: Stream): void;
}

/** Counters a transport keeps about traffic it could not hand over. */
export interface TransportStats {
  /** Datagrams or streams that arrived before {@link Transport.listen} or after close. */
  unhandled: number;
}

export interface Transport {
  /** The address bound (the port the system picked when 0 was asked). */
  readonly address: Address;
  /** The address peers should use to reach us (differs from {@link address} when bound to a wildcard). */
  readonly advertiseAddress: Address;
  readonly stats: TransportStats;
  /**
   * Sends one datagram (best effort: a lost datagram is not an error) and resolves with the
   * clock reading right after the send, as memberlist's `WriteTo` returns its timestamp.
   */
  send(data: Uint8Array, to: Address): Promise<number>;
  /** Opens a stream; rejects with a `TIMEOUT` RollcallError after `timeoutMs`, `UNAVAILABLE` when refused. */
  dial(to: Address, timeoutMs: number): Promise<Stream>;
  /** Starts handing incoming datagrams and streams to `handlers` (one set; a second call replaces it). */
  listen(handlers: TransportHandlers): void;
  /** Stops listening and destroys the streams still open. */
  close(): Promise<void>;
}

/** `127.0.0.1:7946` or `[::1]:7946`. */
export function formatAddress(address: Address): string {
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.port === b.port && a.host === b.host;
}

/** `::ffff:127.0.0.1` (what a dual-stack socket reports for an IPv4 peer) as `127.0.0.1`. */
export function unmapIPv4(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}
