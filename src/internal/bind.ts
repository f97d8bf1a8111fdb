/**
 * Binding sockets: the one place that creates a listening TCP server or a bound UDP socket and turns
 * a failed bind into a RollcallError that names the remedy (a port in use, an address that is not
 * this machine's, a privileged port). The gossip transport binds through it, and so does mdns for
 * its ephemeral query sockets; mdns's port 5353 socket is bound by multicast-dns on a socket we
 * create, because that library owns the multicast membership of it.
 * @module
 */
import { createSocket, type Socket as DatagramSocket, type SocketOptions } from 'node:dgram';
import { createServer, isIPv6, type Server } from 'node:net';
import { RollcallError } from '../errors.js';
import { formatAddress } from './transport.js';

/** A TCP server listening on `host:port`, for this process alone (no port sharing), half-open streams allowed. */
export function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true });
    server.once('error', (error) => reject(bindError(error as NodeJS.ErrnoException, 'TCP', host, port)));
    // exclusive: a second process asking for the same port must fail, not share it.
    server.listen({ host, port, exclusive: true, ipv6Only: false }, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}

export interface BindUdpOptions {
  host: string;
  port: number;
  /** Refuse to share the port with a cluster worker or another socket. @default false */
  exclusive?: boolean;
  /** Extra socket options (reuseAddr, ipv6Only, lookup); the type follows the host's family. */
  socket?: Omit<SocketOptions, 'type'>;
}

/** A UDP socket bound to `host:port`; on failure the socket is closed and the error names the remedy. */
export function bindUdp(options: BindUdpOptions): Promise<DatagramSocket> {
  const { host, port, exclusive = false } = options;
  return new Promise((resolve, reject) => {
    const socket = createSocket({ reuseAddr: false, ...options.socket, type: isIPv6(host) ? 'udp6' : 'udp4' });
    socket.once('error', (error) => {
      socket.close();
      reject(bindError(error as NodeJS.ErrnoException, 'UDP', host, port));
    });
    socket.bind({ address: host, port, exclusive }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** The typed error for a failed bind of `protocol` on `host:port`. */
export function bindError(error: NodeJS.ErrnoException, protocol: string, host: string, port: number): RollcallError {
  const where = `${protocol} ${formatAddress({ host, port })}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new RollcallError(
        'CONFLICT',
        `${where} is already in use by another socket; pick another port, or port 0 to let the system choose one free for UDP and TCP`,
        { cause: error },
      );
    case 'EADDRNOTAVAIL':
      return new RollcallError(
        'INVALID_OPTIONS',
        `cannot bind ${where}: ${host} is not an address of this machine; bind one of its addresses, or 0.0.0.0 / ::`,
        { cause: error },
      );
    case 'EACCES':
      return new RollcallError(
        'PERMISSION_DENIED',
        `binding ${where} needs privileges (ports below 1024 do); pick a port of 1024 or more`,
        { cause: error },
      );
    default:
      return new RollcallError('UNAVAILABLE', `cannot bind ${where}: ${error.message}`, { cause: error });
  }
}
