/**
 * The responder (RFC 6762 §6-§10) for every node this registry registers: probes its names,
 * renames on conflict, announces (three times, 1 s then 2 s apart), answers queries (unique answers
 * at once, shared ones after 20-120 ms, known answers suppressed, unicast for QU questions and
 * legacy queriers), re-announces as heartbeat, defends its names, and says goodbye (TTL 0).
 * @module
 */
import { RollcallError } from '../../errors.js';
import type { Logger, Node, NodeRename, Service } from '../../registry.js';
import { ANNOUNCE_COUNT, Announcer } from './announcer.js';
import { Answerer, type Arrival, type RecordIndex } from './answers.js';
import { type Codec, txtBytes } from './codec.js';
import { foldName, randomTag, renameAttempt, renamedLabel } from './names.js';
import { type Message, PACKET_BUDGET, type Rr, recordBytes, recordKey, txtStrings } from './packet.js';
import type { Claim, Prober, Target } from './prober.js';
import { HostEntry, Publication, parseAddress, publicationKey } from './publication.js';
import { DEFENCE_RATE_LIMIT_MS, RATE_LIMIT_MS, type Sender } from './sender.js';

/**
 * What a host name is made from: its IP, or the family of a wildcard, so the IPv4 and IPv6
 * wildcard hosts of one responder never share a name (our own records never come back to us to
 * show such a clash).
 */
function hostAddress(spec: HostEntry['spec']): string {
  return spec.kind === 'ip' ? spec.ip : `any${spec.family}`;
}

/** After this many conflicts for one node the registration fails instead of renaming forever. */
const MAX_RENAMES = 16;

export interface ResponderHost {
  codec: Codec;
  sender: Sender;
  prober: Prober;
  targets(): Target[];
  log: Logger;
  /**
   * The registry's own nodes, first-hand: a node is `live` from its announcement (and again on
   * each update) until it is withdrawn. Our own multicasts never come back to us (see OwnEchoes).
   */
  local: { live(id: string, service: Service): void; gone(id: string): void };
  /** A conflict with another host renamed a node of the registration `owner` (reported to it: log, stats, event). */
  renamed(owner: object, rename: NodeRename): void;
}

export type { Arrival } from './answers.js';

export class Responder implements RecordIndex {
  readonly #h: ResponderHost;
  readonly #tag = randomTag();
  readonly #pubs = new Map<string, Publication>();
  readonly #instances = new Map<string, Publication>();
  readonly #hosts = new Map<string, HostEntry>();
  readonly #hostsByAddress = new Map<string, HostEntry>();
  readonly #shared = new Map<string, Set<Publication>>();
  readonly #claims = new Map<Publication | HostEntry, Claim>();
  readonly #announcer: Announcer;
  readonly answers: Answerer;
  /** Publications that completed probing once: they said hello, so they owe a goodbye. */
  readonly #established = new WeakSet<Publication>();
  #closed = false;
  conflicts = 0;
  renames = 0;
  /** Nodes given up to a newer registration of the same node by another process on this host. */
  takenOver = 0;
  /** Records said goodbye for because their name was lost to a conflict. */
  retracted = 0;

  constructor(host: ResponderHost) {
    this.#h = host;
    this.answers = new Answerer(this, host.sender);
    this.#announcer = new Announcer(host.targets, host.sender);
  }

  /** A query: answered from live records (see answers.ts). */
  onQuery(message: Message, arrival: Arrival): void {
    // A registry that only browses has nothing to answer with.
    if (this.#pubs.size > 0) this.answers.onQuery(message, arrival);
  }

  get size(): number {
    return this.#pubs.size;
  }

  // --- RecordIndex ---
  instance(fname: string): Publication | undefined {
    return this.#instances.get(fname);
  }
  host(fname: string): HostEntry | undefined {
    return this.#hosts.get(fname);
  }
  shared(fname: string): Iterable<Publication> {
    return this.#shared.get(fname) ?? [];
  }

  /** Our live PTRs under a browse name: answers our own queries already know (RFC 6762 §7.1). */
  ownPointers(fname: string): Rr[] {
    const out: Rr[] = [];
    for (const pub of this.shared(fname)) {
      if (pub.state !== 'live') continue;
      for (const rr of pub.shared) if (rr.type === 'PTR' && foldName(rr.name) === fname) out.push(rr);
    }
    return out;
  }

  /**
   * Validates and encodes every node of a registration before anything is published, so a node
   * that does not fit fails the whole registration with nothing sent.
   */
  prepare(service: Service, ttl: number, owner: object): Array<() => Publication> {
    return service.nodes.map((node) => {
      const single: Service = Object.freeze({ ...service, nodes: Object.freeze([node]) });
      const existing = this.#pubs.get(publicationKey(service.name, node.id));
      const label = existing?.label ?? this.#h.codec.label(single, node);
      const probe = new Publication(this.#h.codec, single, node, owner, ttl, label);
      const { spec, port } = parseAddress(node.address);
      probe.spec = spec;
      probe.port = port;
      const txt = this.#h.codec.txt(single, node, this.#txtBudget(probe));
      // Go Micro's instance name is the node id: two registrations of one id here cannot both have it.
      if (!existing && !this.#h.codec.renameable && this.#instances.has(foldName(probe.instance))) {
        throw this.#conflictError(node, probe.instance);
      }
      return () => this.#commit(existing, single, node, owner, ttl, txt);
    });
  }

  /** What TXT may take so the node's whole record set fits one packet. */
  #txtBudget(pub: Publication): number {
    const sample: Target = {
      family: 4,
      iface: {
        name: 'x',
        v4: [{ address: '255.255.255.255', netmask: '' }],
        v6: [{ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', netmask: '' }],
      },
    };
    const spec = pub.spec;
    if (spec.kind !== 'name') pub.host = new HostEntry(this.#h.codec.hostName(hostAddress(spec), pub.instance, `${this.#tag}-00`), spec);
    const bytes = 12 + pub.all(sample).reduce((n, r) => n + recordBytes(r), 0);
    pub.host = undefined;
    // Room for a conflict suffix (" (16)") in each name that repeats the label.
    return PACKET_BUDGET - bytes - txtBytes([]) - 32;
  }

  #commit(existing: Publication | undefined, service: Service, node: Node, owner: object, ttl: number, txt: Buffer[]): Publication {
    if (existing && this.#pubs.get(existing.key) === existing && !existing.yielded) {
      const before = { address: existing.node.address, ttl: existing.ttl, txt: existing.txt };
      existing.update(service, node, owner, ttl, txt);
      this.#index(existing);
      if (before.address !== node.address) this.#attachHost(existing);
      if (existing.state === 'live') {
        // New rdata repeats the whole announcing step (RFC 6762 §8.4), so a lost packet does not leave
        // a cache with the old data (rescheduling ends what was left of an earlier step: its records
        // go again in this one). A re-registration that changes nothing is one announcement, and
        // leaves a step still under way to finish.
        const changed = before.address !== node.address || before.ttl !== ttl || !sameStrings(before.txt, txt);
        if (changed) this.#announcer.schedule(existing, ANNOUNCE_COUNT);
        else this.#announcer.enqueue(existing, RATE_LIMIT_MS);
        this.#h.local.live(existing.key, existing.service);
      }
      return existing;
    }
    const codec = this.#h.codec;
    let label = codec.label(service, node);
    const taken = (l: string) => this.#instances.has(foldName(codec.instanceName(l, service)));
    for (let attempt = 2; taken(label); attempt++) {
      if (!codec.renameable || attempt > MAX_RENAMES) throw this.#conflictError(node, codec.instanceName(label, service));
      label = renamedLabel(label, attempt);
    }
    const pub = new Publication(codec, service, node, owner, ttl, label);
    pub.update(service, node, owner, ttl, txt);
    pub.spec = parseAddress(node.address).spec;
    this.#pubs.set(pub.key, pub);
    this.#index(pub);
    this.#attachHost(pub);
    void this.#probe(pub);
    return pub;
  }

  #conflictError(node: Node, instance: string): RollcallError {
    return new RollcallError(
      'CONFLICT',
      `node ${JSON.stringify(node.id)}: the instance name ${JSON.stringify(instance)} is taken on this network`,
      {
        adapter: 'mdns',
      },
    );
  }

  #index(pub: Publication): void {
    this.#instances.set(pub.fname, pub);
    for (const rr of pub.shared) {
      const f = foldName(rr.name);
      let set = this.#shared.get(f);
      if (!set) this.#shared.set(f, (set = new Set()));
      set.add(pub);
    }
  }

  #unindex(pub: Publication): void {
    if (this.#instances.get(pub.fname) === pub) this.#instances.delete(pub.fname);
    for (const [f, set] of this.#shared) {
      set.delete(pub);
      if (set.size === 0) this.#shared.delete(f);
    }
  }

  #attachHost(pub: Publication): void {
    const old = pub.host;
    const spec = parseAddress(pub.node.address).spec;
    pub.spec = spec;
    let host: HostEntry | undefined;
    if (spec.kind !== 'name') {
      const perNode = foldName(this.#h.codec.hostName(undefined, pub.instance, this.#tag)) === pub.fname;
      const key = perNode ? `node:${pub.key}` : hostAddress(spec);
      host = this.#hostsByAddress.get(key);
      if (!host) {
        host = new HostEntry(this.#h.codec.hostName(hostAddress(spec), pub.instance, this.#tag), spec);
        this.#hostsByAddress.set(key, host);
        this.#hosts.set(host.fname, host);
        host.perNode = perNode;
        // A per-node host (Go Micro's target is the instance) is claimed together with the instance.
        if (perNode) {
          host.state = 'live';
          host.settle.resolve();
        } else void this.#probeHost(host);
      }
      host.users.add(pub);
    }
    pub.host = host;
    if (old && old !== host) this.#releaseHost(old, pub);
  }

  #releaseHost(host: HostEntry, pub: Publication): void {
    host.users.delete(pub);
    if (host.users.size > 0) return;
    const claim = this.#claims.get(host);
    if (claim) this.#h.prober.cancel(claim);
    this.#claims.delete(host);
    if (this.#hosts.get(host.fname) === host) this.#hosts.delete(host.fname);
    for (const [k, h] of this.#hostsByAddress) if (h === host) this.#hostsByAddress.delete(k);
  }

  /** Claims a name through the prober: true when won, false on conflict. */
  #claim(owner: Publication | HostEntry, name: string, records: (t: Target) => Rr[]): Promise<boolean> {
    return new Promise((resolve) => {
      const claim: Claim = { name, records, won: () => resolve(true), conflict: () => resolve(false) };
      this.#claims.set(owner, claim);
      this.#h.prober.claim(claim);
    });
  }

  async #probe(pub: Publication): Promise<void> {
    pub.state = 'probing';
    this.#announcer.stop(pub);
    // Only the name we announced is in caches: a name tried after a rename never was.
    let announced = this.#isEstablished(pub);
    for (;;) {
      // A per-node host (Go Micro's) shares the instance name, so its addresses are claimed with it.
      const won = await this.#claim(pub, pub.instance, (t) => (pub.host?.perNode ? pub.resolution(t) : pub.unique()));
      if (this.#pubs.get(pub.key) !== pub || this.#closed) return;
      this.#claims.delete(pub);
      if (won) break;
      this.conflicts++;
      pub.conflicts++;
      if (!this.#h.codec.renameable || pub.conflicts >= MAX_RENAMES) {
        const error = this.#conflictError(pub.node, pub.instance);
        this.#h.log.warn({ instance: pub.instance }, error.message);
        if (!this.#isEstablished(pub)) {
          this.#drop(pub);
          pub.settle.reject(error);
          return;
        }
        // Go Micro cannot rename (the name is the node id): keep publishing, as Go Micro does.
        break;
      }
      // A name lost after it was announced (§9): retract our SRV and TXT under it. Not the PTRs: they
      // are shared, and the same pointer is now the new holder's.
      if (announced) this.#retract(() => pub.unique());
      announced = false;
      this.#rename(pub);
    }
    if (pub.host && !pub.host.perNode) await pub.host.established;
    if (this.#pubs.get(pub.key) !== pub || this.#closed) return;
    pub.state = 'live';
    this.#established.add(pub);
    this.#announcer.schedule(pub, ANNOUNCE_COUNT);
    this.#h.local.live(pub.key, pub.service);
    pub.settle.resolve();
  }

  /** Goodbyes (TTL 0) for records of a name we no longer hold, on every link. */
  #retract(records: (target: Target) => Rr[]): void {
    for (const target of this.#h.targets()) {
      const answers = records(target).map((r) => ({ ...r, ttl: 0 }));
      this.retracted += answers.length;
      if (answers.length > 0) this.#h.sender.multicastResponse([{ answers }], target, 0);
    }
  }

  #isEstablished(pub: Publication): boolean {
    return this.#established.has(pub);
  }

  #rename(pub: Publication): void {
    this.#unindex(pub);
    let attempt = renameAttempt(pub.label) + 1;
    let label = renamedLabel(pub.label, attempt);
    while (this.#instances.has(foldName(this.#h.codec.instanceName(label, pub.service)))) label = renamedLabel(pub.label, ++attempt);
    const from = pub.instance;
    const to = this.#h.codec.instanceName(label, pub.service);
    this.#h.log.warn({ service: pub.service.name, nodeId: pub.node.id, from, to }, 'mDNS name taken by another host: node renamed');
    this.renames++;
    pub.setLabel(label);
    this.#index(pub);
    this.#h.renamed(pub.owner, { nodeId: pub.node.id, from, to });
  }

  async #probeHost(host: HostEntry): Promise<void> {
    const wasLive = host.state === 'live';
    let announced = wasLive;
    host.state = 'probing';
    for (;;) {
      const won = await this.#claim(host, host.name, (t) => host.records(t));
      if (this.#closed || host.users.size === 0) return;
      this.#claims.delete(host);
      if (won) break;
      this.conflicts++;
      host.conflicts++;
      // Caches may still map the lost name to our addresses: retract exactly those (our rdata only,
      // so the new holder's records stay) before the name changes.
      if (announced) this.#retract((t) => host.records(t));
      announced = false;
      this.#hosts.delete(host.fname);
      host.rename(this.#h.codec.hostName(hostAddress(host.spec), '', `${this.#tag}-${host.conflicts + 1}`));
      this.#hosts.set(host.fname, host);
    }
    host.state = 'live';
    host.settle.resolve();
    // New addresses are new rdata: the whole announcing step again (RFC 6762 §8.4).
    if (wasLive) for (const pub of host.users) if (pub.state === 'live') this.#announcer.schedule(pub, ANNOUNCE_COUNT);
  }

  /** Heartbeat: re-announces the nodes of a registration. False when one is no longer ours. */
  heartbeat(service: Service, owner: object): boolean {
    let present = true;
    for (const node of service.nodes) {
      const pub = this.#pubs.get(publicationKey(service.name, node.id));
      if (!pub) present = false;
      // A node taken over on this host stays ours to hold (no restore fights the new owner) but is not announced.
      else if (pub.owner === owner && !pub.yielded) this.#announcer.enqueue(pub, RATE_LIMIT_MS);
    }
    return present;
  }

  /** Whether every node of the registration has its name (probing finished). */
  established(service: Service): Promise<void> {
    return Promise.all(service.nodes.map((n) => this.#pubs.get(publicationKey(service.name, n.id))?.established)).then(() => {});
  }

  // --- Leaving ---

  /** Goodbye (TTL 0) for these nodes, when `owner` (if given) still owns them. */
  async goodbye(service: Service, owner?: object): Promise<void> {
    const gone = this.#take(service, owner).filter((p) => !p.yielded && (p.state === 'live' || this.#isEstablished(p)));
    if (gone.length === 0) return;
    for (const target of this.#h.targets()) {
      const still = new Set<string>();
      for (const p of this.#pubs.values()) if (p.state === 'live') for (const r of p.all(target)) still.add(recordKey(r));
      const groups = gone.map((p) => ({
        answers: p
          .all(target)
          .filter((r) => !still.has(recordKey(r)))
          .map((r) => ({ ...r, ttl: 0 })),
      }));
      this.#h.sender.multicastResponse(groups, target, 0);
    }
    await this.#h.sender.flushed();
  }

  /** Stops publishing without a goodbye (a crash, or another registration took the node over). */
  withdraw(service: Service, owner: object): void {
    this.#take(service, owner);
  }

  #take(service: Service, owner: object | undefined): Publication[] {
    const out: Publication[] = [];
    for (const node of service.nodes) {
      const pub = this.#pubs.get(publicationKey(service.name, node.id));
      if (!pub || (owner && pub.owner !== owner)) continue;
      this.#drop(pub);
      out.push(pub);
    }
    return out;
  }

  #drop(pub: Publication): void {
    pub.withdrawn = true;
    this.#pubs.delete(pub.key);
    this.#h.local.gone(pub.key);
    this.#unindex(pub);
    this.#announcer.stop(pub);
    const claim = this.#claims.get(pub);
    if (claim) this.#h.prober.cancel(claim);
    this.#claims.delete(pub);
    if (pub.host) this.#releaseHost(pub.host, pub);
    // A registration still waiting for its name must not wait forever.
    pub.settle.reject(
      new RollcallError('CLOSED', `node ${JSON.stringify(pub.node.id)} was withdrawn before its name was established`, { adapter: 'mdns' }),
    );
  }

  /**
   * A response from anyone: a conflict with a name we hold or probe for (§8.1, §9), a goodbye
   * for a record we still publish (answered by announcing it again), or an answer that makes
   * our own pending answer redundant (§7.4, duplicate answer suppression).
   */
  onResponse(message: Message, target: Target, sameHost = false): void {
    this.answers.suppressDuplicates(message, target);
    const { answers, additionals } = message;
    for (let i = 0; i < answers.length; i++) this.#checkHeard(answers[i] as Rr, target, message, sameHost);
    for (let i = 0; i < additionals.length; i++) this.#checkHeard(additionals[i] as Rr, target, message, sameHost);
  }

  /** A record heard in a response: a conflict when it is another's data for a unique name of ours (RFC 6762 §9). */
  #checkHeard(rr: Rr, target: Target, message: Message, sameHost: boolean): void {
    if (rr.type === 'PTR') return;
    const fname = rr.fname ?? foldName(rr.name);
    const pub = this.#instances.get(fname);
    const owner = pub ?? this.#hosts.get(fname);
    // Most records heard are other hosts' business.
    if (!owner) return;
    const key = recordKey(rr);
    const ours = pub
      ? [...pub.unique(), ...(pub.host?.fname === fname ? pub.host.records(target) : [])]
      : (owner as HostEntry).records(target);
    if (ours.some((o) => recordKey(o) === key)) {
      if (rr.ttl === 0 && pub?.state === 'live') this.#announcer.enqueue(pub, DEFENCE_RATE_LIMIT_MS);
    } else if (rr.ttl > 0 && ours.some((o) => o.type === rr.type) && !this.#h.sender.sentByUs(key)) {
      if (pub && sameHost && this.#sameNode(pub, message)) this.#takeover(pub, key);
      else this.#onConflict(owner);
    }
  }

  /** Whether a response describes the node `pub` publishes (same service and node id in its TXT). */
  #sameNode(pub: Publication, message: Message): boolean {
    const txt = [...message.answers, ...message.additionals].find((r) => r.type === 'TXT' && (r.fname ?? foldName(r.name)) === pub.fname);
    if (!txt) return false;
    const decoded = this.#h.codec.decode(txt.name, txtStrings(txt));
    return typeof decoded !== 'string' && decoded.name === pub.service.name && decoded.nodeId === pub.node.id;
  }

  /**
   * Another process on this host publishes the same node under our name: a restart rolling over
   * (the same node id registered again by a new process), not a name conflict. The newer
   * registration takes the name over: one still probing ignores the old records (and remembers
   * them, for they may be heard a while longer); one already live that hears records it did not
   * take over from yields, without a goodbye, which would remove the new holder's node.
   */
  #takeover(pub: Publication, key: string): void {
    if (pub.state === 'probing') {
      pub.supersedes.add(key);
      return;
    }
    if (pub.supersedes.has(key)) return;
    this.takenOver++;
    this.#h.log.info(
      { service: pub.service.name, nodeId: pub.node.id, instance: pub.instance },
      'node taken over by another process on this host',
    );
    pub.yielded = true;
    pub.withdrawn = true;
    this.#announcer.stop(pub);
    this.#unindex(pub);
    if (pub.host) this.#releaseHost(pub.host, pub);
    pub.host = undefined;
    this.#h.local.gone(pub.key);
  }

  #onConflict(owner: Publication | HostEntry): void {
    const claim = this.#claims.get(owner);
    if (owner.state === 'probing') {
      if (claim) this.#h.prober.conflict(claim);
      return;
    }
    // RFC 6762 §9: a conflicting answer for a name we already use sends us back to probing.
    this.conflicts++;
    this.#h.log.info({ name: owner instanceof Publication ? owner.instance : owner.name }, 'mDNS conflict after announcing: probing again');
    if (owner instanceof Publication) void this.#probe(owner);
    else void this.#probeHost(owner);
  }

  /** RFC 6762 §8.3: an interface came up or changed: probe and announce every name again there. */
  interfacesChanged(): void {
    for (const host of new Set(this.#hosts.values())) {
      if (host.state === 'live' && !host.perNode && !this.#claims.has(host) && host.users.size > 0) void this.#probeHost(host);
    }
    for (const pub of this.#pubs.values()) if (pub.state === 'live') void this.#probe(pub);
  }

  close(): void {
    this.#closed = true;
    this.#announcer.close();
    this.answers.close();
    // A registration still probing when the registry closes must not wait forever.
    const closed = new RollcallError('CLOSED', 'registry closed while the name was being probed', { adapter: 'mdns' });
    for (const pub of this.#pubs.values()) if (!this.#isEstablished(pub)) pub.settle.reject(closed);
  }
}

/** Whether two TXT records hold the same strings. */
function sameStrings(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((s, i) => s.equals(b[i] as Buffer));
}
