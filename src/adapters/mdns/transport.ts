/**
 * Sockets that work on real hosts, bound through multicast-dns; datagrams are handed over raw
 * and read once by packet-reader.ts (multicast-dns would decode each one with dns-packet first):
 *
 * - one socket per family bound to the wildcard address on port 5353 with address reuse, so it
 *   shares the port with avahi, mDNSResponder and other rollcall processes (never the
 *   interface's unicast address: a socket bound there receives no multicast, multicast-dns#53);
 * - the group joined on every multicast-capable interface, and every packet sent on each
 *   interface explicitly (multicast-dns sends only where the routing table points, #68);
 * - IP TTL / hop limit 255 (RFC 6762 §11), and multicast loopback while another socket on this
 *   host listens on port 5353, so processes on one host hear each other (see {@link Transport.checkSharing});
 * - an ephemeral-port socket for queries that want unicast answers (Go Micro's servers answer
 *   the querier's address and port; a unicast packet to a shared 5353 reaches only one socket);
 * - our own multicasts, which loopback brings back to us too, recognised by content and dropped
 *   before anything decodes them (see {@link OwnEchoes}).
 * @module
 */

import { createSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RollcallError } from '../../errors.js';
import { bindUdp } from '../../internal/bind.js';
import { systemClock } from '../../internal/clock.js';
import type { NetInterface } from './interfaces.js';

export const MDNS_PORT = 5353;
export const GROUP4 = '224.0.0.251';
export const GROUP6 = 'ff02::fb';

/** Which socket a packet came in on: the shared mDNS port, or our ephemeral query port. */
export type Via = 'mdns' | 'ephemeral';

export interface TransportHandlers {
  /** A datagram that is not an echo of ours, as it arrived. */
  packet(datagram: Buffer, rinfo: RemoteInfo, via: Via): void;
  /** A send or socket error: counted, never thrown (links go down; that is normal). */
  socketError(error: NodeJS.ErrnoException): void;
}

interface MdnsSocket {
  on(event: 'ready', listener: () => void): void;
  on(event: 'error' | 'warning', listener: (error: NodeJS.ErrnoException) => void): void;
  once(event: 'ready', listener: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  removeAllListeners(event: string): void;
  destroy(callback?: () => void): void;
}

type MulticastDns = (options: Record<string, unknown>) => MdnsSocket;

const require = createRequire(import.meta.url);
let multicastDns: MulticastDns | undefined;

/**
 * Node resolves a send's destination on the next tick unless the lookup answers at once; our
 * destinations are always literal addresses, and a synchronous answer keeps the send in the same
 * tick as the setMulticastInterface that chose its interface.
 */
function literalLookup(address: string, family: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  const cb = typeof family === 'function' ? (family as typeof callback) : callback;
  cb(null, address, address.includes(':') ? 6 : 4);
}

/** How long a multicast of ours waits for its loopback copy; the kernel delivers it during the send. */
const ECHO_WAIT_MS = 2000;
/** Sends waiting for their echo, at most (a burst of announcements for hundreds of nodes fits). */
const MAX_AWAITED_ECHOES = 512;

interface SentPacket {
  readonly buf: Buffer;
  /** The sending socket's port and address: the echo's source. */
  readonly port: number;
  readonly address: string;
  readonly at: number;
}

/**
 * Our own multicasts come back to us while multicast loopback is on (other processes on this
 * host, avahi among them, hear us only through it): every socket joined to the group on the
 * sending interface gets a copy, ours included. Each multicast is remembered until its one copy
 * arrives (same bytes, from the sending socket's address and port), and that copy is dropped
 * before anything decodes it: a publisher does not decode, cache and assemble every packet it
 * sends, and a query of ours is never answered by our own responder (the registry knows its own
 * nodes first-hand; see the assembler's local nodes). With loopback on, a second copy that
 * arrives over another interface on the same link (a multihomed host) is taken in as a real
 * packet; with loopback off that copy from the wire is the one awaited.
 */
export class OwnEchoes {
  readonly #awaited: SentPacket[] = [];
  readonly #now: () => number;
  /** Echoes recognised and dropped. */
  dropped = 0;

  constructor(now: () => number = systemClock.now) {
    this.#now = now;
  }

  sent(buf: Buffer, port: number, address: string): void {
    const now = this.#now();
    this.#expire(now);
    if (this.#awaited.length >= MAX_AWAITED_ECHOES) this.#awaited.shift();
    this.#awaited.push({ buf, port, address, at: now });
  }

  /** Whether this datagram is the loopback copy of a multicast of ours (and if so, it is accounted for). */
  isEcho(buf: Buffer, rinfo: RemoteInfo): boolean {
    const awaited = this.#awaited;
    if (awaited.length === 0) return false;
    this.#expire(this.#now());
    for (let i = 0; i < awaited.length; i++) {
      const sent = awaited[i] as SentPacket;
      if (sent.port !== rinfo.port || !sent.buf.equals(buf) || !sameAddress(sent.address, rinfo.address)) continue;
      awaited.splice(i, 1);
      this.dropped++;
      return true;
    }
    return false;
  }

  /** Forgets sends whose copy is overdue (oldest first: they were sent in order). */
  #expire(now: number): void {
    const awaited = this.#awaited;
    while (awaited.length > 0 && now - (awaited[0] as SentPacket).at > ECHO_WAIT_MS) awaited.shift();
  }
}

/** Compares a local address with a datagram's source, which carries a zone for IPv6 link-local. */
function sameAddress(local: string, source: string): boolean {
  if (local === source) return true;
  const zone = source.indexOf('%');
  return zone >= 0 && source.slice(0, zone).toLowerCase() === local.toLowerCase();
}

/**
 * Whether /proc lists a socket on port 5353 besides ours (`ipv6`: we hold one in udp6 too). The
 * IPv6 listing is read even when we do not use IPv6: a dual-stack socket on [::]:5353 hears IPv4
 * multicast too. Off Linux the port is taken as shared, to stay safe.
 */
function portShared(ipv6: boolean): boolean {
  if (process.platform !== 'linux') return true;
  const v4 = socketsOnMdnsPort('/proc/net/udp', Number.POSITIVE_INFINITY);
  // Our own socket is always listed: a listing without it (a partial /proc) cannot be trusted.
  if (v4 < 1) return true;
  // No file means a kernel without IPv6, so no such socket.
  return v4 > 1 || socketsOnMdnsPort('/proc/net/udp6', 0) > (ipv6 ? 1 : 0);
}

/** UDP sockets bound to port 5353 in a /proc/net listing; `unreadable` when it cannot be read. */
function socketsOnMdnsPort(file: string, unreadable: number): number {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^\s*\d+:\s+[0-9A-F]+:14E9\s/.test(line)).length;
  } catch {
    return unreadable;
  }
}

function socketOptions(type: 'udp4' | 'udp6', shared: boolean): Omit<SocketOptions, 'type'> {
  return { reuseAddr: shared, ...(type === 'udp6' ? { ipv6Only: true } : {}), lookup: literalLookup as never };
}

function newSocket(type: 'udp4' | 'udp6', shared: boolean): Socket {
  return createSocket({ type, ...socketOptions(type, shared) });
}

/**
 * Binds `socket` through multicast-dns, then takes its datagrams over (to `receive`):
 * multicast-dns's own listener would decode each one with dns-packet, only for the result to be
 * read again.
 */
function open(
  socket: Socket,
  options: Record<string, unknown>,
  handlers: TransportHandlers,
  receive: (datagram: Buffer, rinfo: RemoteInfo) => void,
): Promise<MdnsSocket> {
  multicastDns ??= require('multicast-dns') as MulticastDns;
  const mdns = multicastDns({ socket, multicast: false, ...options });
  socket.removeAllListeners('message');
  socket.on('message', receive);
  return new Promise((resolve, reject) => {
    mdns.once('error', reject);
    mdns.once('ready', () => {
      mdns.removeAllListeners('error');
      mdns.on('error', (e) => handlers.socketError(e));
      // multicast-dns reports non-fatal socket errors as warnings (it never sees a datagram to fail decoding).
      mdns.on('warning', (e) => handlers.socketError(e));
      resolve(mdns);
    });
  });
}

export class Transport {
  readonly #handlers: TransportHandlers;
  readonly echoes = new OwnEchoes();
  #s4: Socket | undefined;
  #s6: Socket | undefined;
  #e4: Socket | undefined;
  #e6: Socket | undefined;
  readonly #wrappers: MdnsSocket[] = [];
  readonly #joined4 = new Map<string, string>();
  readonly #joined6 = new Set<string>();
  /** Sends handed to a socket whose completion has not been reported yet. */
  #pending = 0;
  readonly #idle: Array<() => void> = [];
  #ephemeral: Promise<void> | undefined;
  /** The ports our ephemeral sockets got (read once: every multicast names its source port). */
  readonly #ephemeralPorts = new Map<Socket, number>();
  #closed = false;
  #loopback = true;
  /** Whether another socket on this host listens on port 5353 (see {@link shared}); assumed until checked. */
  #shared = true;
  /** Our interfaces' addresses as datagrams name their source (link-local ones with their zone too). */
  #ownAddresses = new Set<string>();

  private constructor(handlers: TransportHandlers) {
    this.#handlers = handlers;
  }

  /** Binds port 5353 for IPv4 (required) and IPv6 (when wanted and possible). */
  static async open(handlers: TransportHandlers, ipv6: boolean): Promise<Transport> {
    const t = new Transport(handlers);
    const s4 = newSocket('udp4', true);
    try {
      t.#wrappers.push(await open(s4, { port: MDNS_PORT, bind: '0.0.0.0' }, handlers, t.#receiver('mdns')));
    } catch (error) {
      s4.close();
      throw new RollcallError('UNAVAILABLE', `cannot bind 0.0.0.0:${MDNS_PORT} for mDNS: ${(error as Error).message}`, {
        adapter: 'mdns',
        cause: error,
      });
    }
    t.#s4 = s4;
    s4.setMulticastTTL(255);
    s4.setTTL(255);
    s4.setMulticastLoopback(true);
    if (ipv6) {
      const s6 = newSocket('udp6', true);
      try {
        t.#wrappers.push(
          await open(s6, { type: 'udp6', ip: GROUP6, interface: '::', port: MDNS_PORT, bind: '::' }, handlers, t.#receiver('mdns')),
        );
        s6.setMulticastTTL(255);
        s6.setTTL(255);
        s6.setMulticastLoopback(true);
        t.#s6 = s6;
      } catch {
        // IPv6 disabled on this host: IPv4 alone is a working mDNS.
        s6.close();
      }
    }
    return t;
  }

  get ipv6(): boolean {
    return this.#s6 !== undefined;
  }

  /** Whether our multicasts are looped back to this host's sockets (they are while the port is {@link shared}). */
  get loopback(): boolean {
    return this.#loopback;
  }

  /**
   * Whether another socket on this host listens on port 5353 (avahi, another rollcall): then a
   * unicast reply to port 5353 may reach it instead of us, so we must not ask for one, and our
   * multicasts must loop back to this host, the only way it hears us. Known from /proc at each
   * {@link checkSharing}, and at once from a packet of another socket on this host.
   */
  get shared(): boolean {
    return this.#shared;
  }

  /**
   * Reads /proc for other sockets on port 5353 (on Linux; elsewhere the port is taken as shared)
   * and sets loopback to match. Multicast loopback is what lets other sockets on this host hear
   * us, and costs us a copy of every packet we send, to be read and recognised (see
   * {@link OwnEchoes}); alone on the port (one service in its own container, VM or host, the
   * common deployment) it brings nothing but those copies: each one a wake-up and a read after
   * every send, which a peer waiting for the same core waits out too.
   */
  checkSharing(): void {
    this.#setShared(portShared(this.#s6 !== undefined));
  }

  #setShared(shared: boolean): void {
    this.#shared = shared;
    this.#setLoopback(shared);
  }

  /** The datagram handler of one socket: our own copies go nowhere, the rest to the packet handler as it arrived. */
  #receiver(via: Via): (datagram: Buffer, rinfo: RemoteInfo) => void {
    return (datagram, rinfo) => {
      if (this.echoes.isEcho(datagram, rinfo)) return;
      // Not our copy, yet from our own address: another socket on this host speaks mDNS, a process
      // that bound port 5353 since the last check (it asks or probes as it starts). It hears us
      // from now on, before we answer what it just said.
      if (!this.#shared && this.#ownAddresses.has(rinfo.address)) this.#setShared(true);
      this.#handlers.packet(datagram, rinfo, via);
    };
  }

  #setLoopback(on: boolean): void {
    if (on === this.#loopback || this.#closed) return;
    let every = true;
    for (const socket of [this.#s4, this.#s6, this.#e4, this.#e6]) {
      try {
        socket?.setMulticastLoopback(on);
      } catch (error) {
        every = false;
        this.#handlers.socketError(error as NodeJS.ErrnoException);
      }
    }
    // Recorded only once every socket took it: a failed switch is tried again at the next check,
    // and echoes are awaited as long as any socket may still loop them back.
    if (every) this.#loopback = on;
  }

  /** Joins the group where it is not joined yet and leaves interfaces that went away. */
  setInterfaces(list: readonly NetInterface[]): void {
    const s4 = this.#s4;
    if (!s4 || this.#closed) return;
    this.#ownAddresses = new Set(
      list.flatMap((i) => [...i.v4.map((a) => a.address), ...i.v6.flatMap((a) => [a.address, `${a.address}%${i.name}`])]),
    );
    const wanted4 = new Map(list.filter((i) => i.v4.length > 0).map((i) => [i.name, (i.v4[0] as { address: string }).address]));
    for (const [name, address] of this.#joined4) {
      if (wanted4.get(name) === address) continue;
      this.#try(() => s4.dropMembership(GROUP4, address));
      this.#joined4.delete(name);
    }
    for (const [name, address] of wanted4) {
      if (this.#joined4.has(name)) continue;
      if (this.#try(() => s4.addMembership(GROUP4, address))) this.#joined4.set(name, address);
    }
    const s6 = this.#s6;
    if (!s6) return;
    const wanted6 = new Set(list.filter((i) => i.v6.length > 0).map((i) => i.name));
    for (const name of this.#joined6) {
      if (wanted6.has(name)) continue;
      this.#try(() => s6.dropMembership(GROUP6, `::%${name}`));
      this.#joined6.delete(name);
    }
    for (const name of wanted6) {
      if (!this.#joined6.has(name) && this.#try(() => s6.addMembership(GROUP6, `::%${name}`))) this.#joined6.add(name);
    }
  }

  /** Runs a membership call; "already a member" counts as success. */
  #try(call: () => void): boolean {
    try {
      call();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
      this.#handlers.socketError(error as NodeJS.ErrnoException);
      return false;
    }
  }

  /** Multicasts on one interface from port 5353; errors go to the handler. */
  multicast(buf: Buffer, iface: NetInterface, family: 4 | 6): void {
    this.#multicastFrom(family === 4 ? this.#s4 : this.#s6, buf, iface, family);
  }

  /** Unicast from port 5353 (answers to QU questions and legacy queries). */
  unicast(buf: Buffer, address: string, port: number): void {
    this.#send(address.includes(':') ? this.#s6 : this.#s4, buf, port, address);
  }

  /** Multicasts a query from the ephemeral port, whose unicast answers come back to us alone. */
  async queryFromEphemeral(buf: Buffer, iface: NetInterface, family: 4 | 6): Promise<void> {
    this.#ephemeral ??= this.#openEphemeral();
    await this.#ephemeral;
    this.#multicastFrom(family === 4 ? this.#e4 : this.#e6, buf, iface, family);
  }

  async #openEphemeral(): Promise<void> {
    const bindAndOpen = async (type: 'udp4' | 'udp6'): Promise<Socket | undefined> => {
      let socket: Socket | undefined;
      try {
        socket = await bindUdp({ host: type === 'udp4' ? '0.0.0.0' : '::', port: 0, socket: socketOptions(type, false) });
        this.#wrappers.push(
          await open(
            socket,
            { port: 0, ...(type === 'udp6' ? { type, ip: GROUP6, interface: '::' } : {}) },
            this.#handlers,
            this.#receiver('ephemeral'),
          ),
        );
        socket.setMulticastTTL(255);
        socket.setMulticastLoopback(this.#loopback);
        this.#ephemeralPorts.set(socket, socket.address().port);
        return socket;
      } catch {
        socket?.close();
        return undefined;
      }
    };
    this.#e4 = await bindAndOpen('udp4');
    if (this.#s6) this.#e6 = await bindAndOpen('udp6');
  }

  /**
   * Multicasts on one interface. A copy is awaited (see {@link OwnEchoes}) while loopback is on,
   * and also where the group is joined on more than one interface of the family: two interfaces on
   * one link (Ethernet and Wi-Fi of one LAN) hear each other's multicasts over the wire, and that
   * copy of ours, from our own address, must not pass for another socket on this host.
   */
  #multicastFrom(socket: Socket | undefined, buf: Buffer, iface: NetInterface, family: 4 | 6): void {
    if (!socket) return;
    try {
      if (family === 4) {
        const local = iface.v4[0];
        if (!local) return;
        socket.setMulticastInterface(local.address);
        if (this.#copiesReturn(this.#joined4.size)) this.echoes.sent(buf, this.#portOf(socket), local.address);
        this.#send(socket, buf, MDNS_PORT, GROUP4);
      } else {
        const local = iface.v6[0];
        if (!local) return;
        socket.setMulticastInterface(`::%${iface.name}`);
        // The kernel sources a link-local multicast from the interface's link-local address.
        if (this.#copiesReturn(this.#joined6.size))
          this.echoes.sent(buf, this.#portOf(socket), iface.v6.find((a) => /^fe[89ab]/i.test(a.address))?.address ?? local.address);
        this.#send(socket, buf, MDNS_PORT, `${GROUP6}%${iface.name}`);
      }
    } catch (error) {
      this.#handlers.socketError(error as NodeJS.ErrnoException);
    }
  }

  /** Whether a multicast of ours comes back to us: through loopback, or over the wire to another of our interfaces (`joined` of the family). */
  #copiesReturn(joined: number): boolean {
    return this.#loopback || joined > 1;
  }

  #portOf(socket: Socket): number {
    return this.#ephemeralPorts.get(socket) ?? MDNS_PORT;
  }

  /**
   * Hands one datagram to a socket. Nothing per send but a count: a send nearly always completes
   * in the call, and only closing (goodbyes) needs to know when the last one is out.
   */
  #send(socket: Socket | undefined, buf: Buffer, port: number, address: string): void {
    if (!socket || this.#closed) return;
    this.#pending++;
    try {
      socket.send(buf, port, address, this.#afterSend);
    } catch (error) {
      this.#afterSend(error as Error);
    }
  }

  readonly #afterSend = (error: Error | null): void => {
    if (error) this.#handlers.socketError(error as NodeJS.ErrnoException);
    if (--this.#pending === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
  };

  /** Resolves once every send so far has completed or failed. */
  flushed(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits for sends in flight (goodbyes), leaves the groups and closes every socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.race([this.flushed(), new Promise((r) => systemClock.setTimeout(() => r(undefined), 1000))]);
    this.#closed = true;
    this.#leaveAll();
    await Promise.all(this.#wrappers.map((w) => new Promise<void>((resolve) => w.destroy(() => resolve()))));
  }

  #leaveAll(): void {
    for (const [, address] of this.#joined4) {
      try {
        this.#s4?.dropMembership(GROUP4, address);
      } catch {
        // the socket closes next anyway
      }
    }
    for (const name of this.#joined6) {
      try {
        this.#s6?.dropMembership(GROUP6, `::%${name}`);
      } catch {
        // the socket closes next anyway
      }
    }
    this.#joined4.clear();
    this.#joined6.clear();
  }
}
