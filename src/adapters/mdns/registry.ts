/**
 * The mdns registry: wires the transport, the responder (what we register) and the browser (what
 * we see) behind the core's AdapterBase, and screens every packet first: oversize, off-link
 * (RFC 6762 §11), malformed, responses from a port other than 5353, query floods. What fails the
 * screen is dropped and counted, never thrown.
 * @module
 */
import type { RemoteInfo } from 'node:dgram';
import { AdapterBase } from '../../adapter.js';
import { adapterLogger } from '../../diagnostics.js';
import { throwIfAborted } from '../../errors.js';
import { abortable } from '../../internal/abort.js';
import { every, systemClock, type Timer } from '../../internal/clock.js';
import { TokenBucket } from '../../internal/token-bucket.js';
import type { RegistrationHandle, RegistrationOps } from '../../registration.js';
import type { NodeRename, Service } from '../../registry.js';
import type { WatchInterest } from '../../watcher.js';
import { Browser } from './browser.js';
import type { Codec } from './codec.js';
import { attribute, diffInterfaces, interfacesKey, listInterfaces, type NetInterface, noInterfaceError } from './interfaces.js';
import { MAX_RECEIVE_BYTES, type Message } from './packet.js';
import { readMessage } from './packet-reader.js';
import { Prober, type Target } from './prober.js';
import { Responder } from './responder.js';
import { Sender, targetsOf } from './sender.js';
import type { ResolvedMdnsOptions } from './settings.js';
import { MDNS_PORT, Transport, type Via } from './transport.js';

/** A source may send this many queries in a burst, refilled at QUERY_RATE per second; beyond that it is a flood. */
const QUERY_BURST = 400;
const QUERY_RATE = 200;
const MAX_SOURCES = 1024;
/** Errors that only mean a link is down or gone: expected, counted, not worth a warning. */
const LINK_ERRORS = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL', 'ENODEV', 'EPERM', 'ENOBUFS']);

const now = systemClock.now;

interface RenameSink {
  handle: RegistrationHandle | undefined;
  pending: NodeRename[];
}
const resolved = Promise.resolve();

export class MdnsRegistry extends AdapterBase {
  readonly #options: ResolvedMdnsOptions;
  readonly #codec: Codec;
  #transport!: Transport;
  #sender!: Sender;
  #prober!: Prober;
  #responder!: Responder;
  #browser!: Browser;
  #interfaces: NetInterface[] = [];
  #targets: Target[] = [];
  #poll: Timer | undefined;
  readonly #buckets = new Map<string, TokenBucket>();
  /** Source address -> the interface it is on-link for (null: off-link); cleared when interfaces change. */
  readonly #sources = new Map<string, NetInterface | null>();
  /** Registration owner -> where its rename events go (the handle, once register() resolved). */
  readonly #renameSinks = new WeakMap<object, RenameSink>();
  /** This host's addresses: a response from one of them is another process on this host. */
  #ownAddresses = new Set<string>();
  #packetsReceived = 0;
  #socketErrors = 0;

  private constructor(options: ResolvedMdnsOptions, codec: Codec) {
    super({
      kind: 'mdns',
      options,
      logger: adapterLogger(options.logger, 'mdns'),
      limits: codec.limits,
      rejectLocalhost: true,
    });
    this.#options = options;
    this.#codec = codec;
  }

  static async create(options: ResolvedMdnsOptions, codec: Codec): Promise<MdnsRegistry> {
    const interfaces = listInterfaces(options.interfaces, options.ipv6);
    if (interfaces.length === 0) throw noInterfaceError(options.interfaces);
    const registry = new MdnsRegistry(options, codec);
    await registry.#start(interfaces);
    return registry;
  }

  async #start(interfaces: NetInterface[]): Promise<void> {
    this.#transport = await Transport.open(
      {
        packet: (datagram, rinfo, via) => this.#onPacket(datagram, rinfo, via),
        socketError: (error) => this.#onSocketError(error),
      },
      this.#options.ipv6,
    );
    this.#sender = new Sender(this.#transport, now, this.#codec.profile === 'go-micro' ? 1 : Number.POSITIVE_INFINITY);
    this.#prober = new Prober({
      targets: () => this.#targets,
      portShared: () => this.#transport.shared,
      send: (m, t) => this.#sender.send(m, t),
    });
    this.#responder = new Responder({
      codec: this.#codec,
      sender: this.#sender,
      prober: this.#prober,
      targets: () => this.#targets,
      log: this.log,
      local: {
        live: (id, service) => this.#browser.localLive(id, service),
        gone: (id) => this.#browser.localGone(id),
      },
      renamed: (owner, rename) => this.#renamed(owner, rename),
    });
    this.#browser = new Browser({
      codec: this.#codec,
      view: this.view,
      query: (questions, known, legacy) =>
        this.#sender.query(questions, known, this.#targets, legacy || this.#codec.profile === 'go-micro'),
      portShared: () => this.#transport.shared,
      targets: () => this.#targets,
      noteDrop: (reason, source) => this.noteDrop(reason, source),
      ownPointers: (fname) => this.#responder.ownPointers(fname),
      now,
      ipv6: this.#transport.ipv6,
      maxRecords: this.#options.maxCacheRecords,
      lookupTimeout: this.#options.lookupTimeout,
      maxQueryInterval: this.#options.maxQueryInterval,
    });
    this.#setInterfaces(interfaces);
    this.#transport.checkSharing();
    this.#poll = every(systemClock, this.#options.interfacePollInterval, () => this.#pollInterfaces());
  }

  #setInterfaces(list: NetInterface[]): void {
    this.#interfaces = list;
    this.#ownAddresses = new Set(
      list.flatMap((i) => [...i.v4.map((a) => a.address), ...i.v6.flatMap((a) => [a.address, `${a.address}%${i.name}`])]),
    );
    this.#sources.clear();
    this.#transport.setInterfaces(list);
    this.#targets = targetsOf(list, this.#transport.ipv6);
  }

  #pollInterfaces(): void {
    const list = listInterfaces(this.#options.interfaces, this.#options.ipv6);
    this.#transport.checkSharing();
    if (interfacesKey(list) === interfacesKey(this.#interfaces)) return;
    const { added, removed } = diffInterfaces(this.#interfaces, list);
    this.log.info({ up: added.map((i) => i.name), down: removed.map((i) => i.name) }, 'network interfaces changed');
    const none = list.length === 0 ? noInterfaceError(this.#options.interfaces) : undefined;
    if (none) this.log.warn({}, none.message);
    this.#setInterfaces(list);
    // Without an interface nothing is heard: watchers are blind until one comes back.
    this.setBlind(none);
    if (added.length > 0) {
      this.#responder.interfacesChanged();
      this.#browser.resetBackoff();
    }
  }

  #onSocketError(error: NodeJS.ErrnoException): void {
    this.#socketErrors++;
    if (error.code && LINK_ERRORS.has(error.code)) this.log.debug({ code: error.code }, 'mDNS send failed (link down?)');
    else this.noteBackendError(error, 'mDNS socket error');
  }

  /** Token bucket per source address: generous for hosts registering hundreds of names, fatal to floods. */
  #admit(source: string): boolean {
    let bucket = this.#buckets.get(source);
    if (!bucket) {
      if (this.#buckets.size >= MAX_SOURCES) this.#buckets.clear();
      this.#buckets.set(source, (bucket = new TokenBucket(QUERY_BURST, QUERY_RATE, now)));
    }
    return bucket.tryTake() === 0;
  }

  #onPacket(datagram: Buffer, rinfo: RemoteInfo, via: Via): void {
    if (this.closed) return;
    this.#packetsReceived++;
    let reason: string | undefined;
    try {
      reason = this.#handle(datagram, rinfo, via);
    } catch (error) {
      this.noteBackendError(error, 'handling an mDNS packet failed');
    }
    if (reason) this.noteDrop(reason, rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`);
  }

  /** Screens and dispatches one packet; returns why it was dropped, if it was. */
  #handle(datagram: Buffer, rinfo: RemoteInfo, via: Via): string | undefined {
    if (datagram.length > MAX_RECEIVE_BYTES) return 'oversize packet';
    const family = rinfo.family === 'IPv6' ? 6 : 4;
    let iface = this.#sources.get(rinfo.address);
    if (iface === undefined) {
      iface = attribute(this.#interfaces, rinfo.address, family) ?? null;
      if (this.#sources.size >= MAX_SOURCES) this.#sources.clear();
      this.#sources.set(rinfo.address, iface);
    }
    if (!iface) return 'off-link source (RFC 6762 §11)';
    const message = readMessage(datagram);
    if (typeof message === 'string') return message;
    const target: Target = { iface, family };
    if (message.response) {
      if (via === 'mdns' && rinfo.port !== MDNS_PORT) return 'response from a port other than 5353';
      this.#browser.onResponse(message, iface.name, rinfo.address);
      // Watchers hear of a node before the conflict check (RFC 6762 §9), which they do not wait on:
      // their events went out as promise jobs during onResponse, and this job queues behind them.
      // (A promise job, not queueMicrotask: Node wraps each of those in an async resource.)
      const sameHost = this.#ownAddresses.has(rinfo.address);
      void resolved.then(() => this.#checkResponse(message, target, sameHost));
    } else if (via === 'mdns') {
      if (!this.#admit(rinfo.address)) return 'query flood';
      if (message.authorities.length > 0) this.#prober.onProbe(message, target);
      this.#responder.onQuery(message, { target, address: rinfo.address, port: rinfo.port });
      this.#browser.onQuery(message, { target, address: rinfo.address, port: rinfo.port });
    }
    return undefined;
  }

  /** The responder's part of a response heard: conflicts with our names, duplicate answers it need not send. */
  #checkResponse(message: Message, target: Target, sameHost: boolean): void {
    if (this.closed) return;
    try {
      this.#responder.onResponse(message, target, sameHost);
    } catch (error) {
      this.noteBackendError(error, 'handling an mDNS packet failed');
    }
  }

  // --- AdapterBase ---

  /** Tells the registration a node was renamed; one still probing hears it once `register()` resolved. */
  #renamed(owner: object, rename: NodeRename): void {
    const sink = this.#renameSinks.get(owner);
    if (!sink) return;
    if (sink.handle) sink.handle.emit('renamed', rename);
    else sink.pending.push(rename);
  }

  protected async put(service: Service, ttl: number, signal: AbortSignal | undefined): Promise<RegistrationOps> {
    throwIfAborted(signal);
    const owner = {};
    const sink: RenameSink = { handle: undefined, pending: [] };
    this.#renameSinks.set(owner, sink);
    const seconds = Math.max(1, Math.ceil(ttl / 1000));
    // Every node is encoded (and refused if it does not fit) before any is published.
    const publish = (s: Service) => this.#responder.prepare(s, seconds, owner).map((commit) => commit().established);
    try {
      await abortable(Promise.all(publish(service)), signal);
    } catch (error) {
      this.#responder.withdraw(service, owner);
      throw error;
    }
    return {
      renew: async (s) => this.#responder.heartbeat(s, owner),
      restore: async (s) => {
        await Promise.all(publish(s));
      },
      remove: (s) => this.#responder.goodbye(s, owner),
      stop: (s) => this.#responder.withdraw(s, owner),
      // After the caller's `await register()` continues, so a listener added right there hears it.
      attach: (handle) => {
        sink.handle = handle;
        if (sink.pending.length > 0)
          systemClock.immediate(() => {
            for (const rename of sink.pending.splice(0)) handle.emit('renamed', rename);
          });
      },
    };
  }

  protected async remove(service: Service): Promise<void> {
    await this.#responder.goodbye(service);
  }

  protected override interest(service: string | undefined): WatchInterest {
    return this.#browser.interest(service);
  }

  protected override peek(name: string): readonly Service[] | undefined {
    const found = this.view.get(name);
    return found.length > 0 || this.#browser.isWarm(name) ? found : undefined;
  }

  protected lookup(name: string, signal: AbortSignal): Promise<readonly Service[]> {
    return this.#browser.lookup(name, signal);
  }

  protected summaries(signal: AbortSignal): Promise<Service[]> {
    return this.#browser.list(signal);
  }

  protected async shutdown(): Promise<void> {
    this.#poll?.cancel();
    this.#responder.close();
    this.#prober.close();
    this.#browser.close();
    await this.#transport.close();
  }

  protected override extraStats(): Record<string, number | string> {
    const s = this.#sender.stats;
    return {
      profile: this.#codec.profile,
      interfaces: this.#interfaces.map((i) => i.name).join(',') || 'none',
      sharedPort: this.#transport.shared ? 1 : 0,
      multicastLoopback: this.#transport.loopback ? 1 : 0,
      publications: this.#responder.size,
      instances: this.#browser.instances,
      cacheRecords: this.#browser.cachedRecords,
      cacheRefused: this.#browser.cache.refused,
      cacheEvicted: this.#browser.cache.evicted,
      interests: this.#browser.interests,
      packetsReceived: this.#packetsReceived,
      packetsSent: s.packetsSent,
      queriesSent: s.queriesSent,
      responsesSent: s.responsesSent,
      rateLimited: s.suppressedByRateLimit,
      queriesSuppressed: this.#browser.queriesSuppressed,
      probesSent: this.#prober.probesSent,
      tieBreaksLost: this.#prober.tieBreaksLost,
      conflicts: this.#responder.conflicts,
      renames: this.#responder.renames,
      takenOver: this.#responder.takenOver,
      retracted: this.#responder.retracted,
      socketErrors: this.#socketErrors,
      ownEchoes: this.#transport.echoes.dropped,
    };
  }
}
