/**
 * The gossip registry: AdapterBase on a {@link SwimNode}. Each registered node travels as one
 * `gossip.Update` user message, piggybacked on SWIM traffic through a transmit-limited queue named
 * per (origin, node) so a newer update replaces a queued older one; receivers apply what is new to
 * them and queue it again, so it spreads epidemically; updates too large for a packet go over TCP
 * to every live member. Push/pull carries the whole state. A member SWIM declares dead or left
 * takes its nodes with it at once.
 * @module
 */
import { createHash } from 'node:crypto';
import { LocalViewAdapter } from '../../../adapter.js';
import { adapterLogger } from '../../../diagnostics.js';
import { RollcallError } from '../../../errors.js';
import { type Clock, systemClock, type Timer } from '../../../internal/clock.js';
import { joinKey } from '../../../internal/keys.js';
import { type Address, formatAddress, type Transport } from '../../../internal/transport.js';
import { bindNetTransport } from '../../../internal/transport-net.js';
import type { RegistrationOps } from '../../../registration.js';
import type { Member, Service } from '../../../registry.js';
import { normalizeService, withNodes } from '../../../service.js';
import { addressFromWire, ipFromBytes } from '../net-address.js';
import { TransmitLimitedQueue } from '../swim/broadcast.js';
import type { MemberEvent } from '../swim/members.js';
import { SwimNode } from '../swim/node.js';
import { COMPOUND_HEADER_OVERHEAD, COMPOUND_PART_OVERHEAD } from '../wire/compound.js';
import { labelBytes, labelOverhead } from '../wire/label.js';
import { encodeDead, encodeUserPacket, NodeState } from '../wire/messages.js';
import { encryptOverhead } from '../wire/security.js';
import { Entries, type EntryChange, nodeKey } from './entries.js';
import { type GossipKeyring, keyringControl } from './keyring-control.js';
import { decodeMessage, encodeMessage, parseServiceJson, type RegistryMessage, serviceJson, type UpdateAction } from './message.js';
import { type GateDrop, type GatedUpdate, OriginGate, type OriginStatus } from './origin-order.js';
import { decodeSerfTags } from './serf-events.js';
import { ROLLCALL_TAG, SERF_VSN, SerfProfile } from './serf-profile.js';
import type { GossipOptions, GossipSettings } from './settings.js';
import { decodeState, encodeState } from './state.js';

/** Queued updates kept at most (the freshest); older ones still reach everyone through push/pull. */
const MAX_QUEUED = 4096;
/** Rejoining the seeds while no peer is reachable: first after 1 s, doubling up to 30 s. */
const REJOIN_MIN_MS = 1_000;
const REJOIN_MAX_MS = 30_000;
/** Updates waiting for their origin or for an earlier change: at most this many, and this many bytes. */
const MAX_HELD = 1024;
const MAX_HELD_BYTES = 2 * 1024 * 1024;

/** An update that passed decoding, as the origin gate holds and applies it. */
interface Arrival {
  message: RegistryMessage & { origin: string; seq: number; ttl: number };
  service: Service;
  payload: Uint8Array;
  /** The change came straight from its origin: the origin's eager push to every member it knows. */
  fromOrigin: boolean;
}

const STATE_NAMES: Record<number, Member['status']> = {
  [NodeState.alive]: 'alive',
  [NodeState.suspect]: 'suspect',
  [NodeState.dead]: 'dead',
  [NodeState.left]: 'left',
};

export class GossipRegistry extends LocalViewAdapter {
  readonly swim: SwimNode;
  readonly #settings: GossipSettings;
  readonly #entries: Entries;
  readonly #queue: TransmitLimitedQueue;
  readonly #seeds: Address[];
  /** Our sequence: starts from the wall clock so a restart under the same name is newer than its last life. */
  #seq = Date.now() * 1000;
  /** Our nodes: the claim and ttl each registration gave, and the last update we sent for each. */
  readonly #own = new Map<
    string,
    {
      claim: number;
      ttl: number;
      payload?: Uint8Array;
      service?: Service;
      /** When `payload` was last stamped afresh to greet a member (clock ms). */
      greeted?: number;
    }
  >();
  /** Goodbyes not yet sent as often as the queue sends each broadcast. */
  readonly #goodbyes = new Set<string>();
  /** Go Micro updates seen recently (they carry no sequence): hash -> when. */
  readonly #goSeen = new Map<string, number>();
  #goSeq = 0;
  #hadPeers = false;
  #rejoinTimer: Timer | undefined;
  #rejoinDelay = REJOIN_MIN_MS;
  #crashed = false;
  /** Our sequence of our last change (not heartbeat): the `prev` of what we send next. */
  #lastChange = 0;
  readonly #gate: OriginGate<Arrival>;
  readonly #keyring: GossipKeyring;
  /** The serf profile's clocks and intents; undefined in the memberlist profile. */
  readonly #serf: SerfProfile | undefined;
  readonly counters = {
    updatesSent: 0,
    updatesReceived: 0,
    updatesRequeued: 0,
    staleUpdates: 0,
    largeUpdates: 0,
    originsDropped: 0,
    /** Not a readable `gossip.Update` (protobuf, action, stamp). */
    badUpdates: 0,
    /** The data is not JSON of a valid Service. */
    badServices: 0,
    /** The Service JSON is over the per-node size limit. */
    oversizedUpdates: 0,
    /** From an origin SWIM holds dead or left at the same or a later incarnation. */
    deadOriginUpdates: 0,
    /** Held for an origin that never joined within the bound. */
    unknownOriginDropped: 0,
    /** Held updates dropped because the hold was full. */
    heldOverflow: 0,
  };

  static async start(options: GossipOptions, settings: GossipSettings): Promise<GossipRegistry> {
    const clock = settings.clock ?? systemClock;
    let transport = settings.transport;
    if (!transport) {
      const adv = settings.advertise;
      transport = await bindNetTransport({
        host: settings.bind,
        port: settings.port,
        clock,
        ...(adv?.port !== undefined ? { advertise: { host: adv.host, port: adv.port } } : {}),
      });
      if (adv && adv.port === undefined) {
        // The advertised host with the port the system gave us.
        await transport.close();
        transport = await bindNetTransport({
          host: settings.bind,
          port: transport.address.port,
          clock,
          advertise: { host: adv.host, port: transport.address.port },
        });
      }
    }
    const registry = new GossipRegistry(options, settings, transport, clock);
    await registry.#begin();
    return registry;
  }

  private constructor(options: GossipOptions, settings: GossipSettings, transport: Transport, clock: Clock) {
    super({ kind: 'gossip', options, logger: adapterLogger(options.logger, 'gossip'), capabilities: { members: true }, clock });
    this.#settings = settings;
    this.#serf = settings.profile === 'serf' ? new SerfProfile(settings.name) : undefined;
    this.#keyring = keyringControl(settings.keyring);
    this.#entries = new Entries({ clock, view: this.view, tombstoneMs: Math.max(60_000, this.defaultTtl * 3) });
    const self = transport.advertiseAddress;
    this.#seeds = settings.seeds.filter((s) => !(s.host === self.host && s.port === self.port));
    const config = settings.config;
    this.#gate = new OriginGate<Arrival>({
      clock,
      // A later change overtook an earlier one: a few gossip rounds bring the earlier one.
      gapHoldMs: Math.max(250, 5 * config.gossipInterval),
      // A new member's alive message usually reaches everyone within a few gossip rounds, but its
      // few retransmissions can all miss a member (2 on the local preset); that member still learns
      // of it at its next push/pull, which it starts once per interval with a peer that knows.
      unknownHoldMs: config.pushPullInterval + Math.max(5 * config.probeInterval, 25 * config.gossipInterval),
      maxHeld: MAX_HELD,
      maxHeldBytes: MAX_HELD_BYTES,
      status: (origin) => this.#originStatus(origin),
      apply: (update) => this.#applyArrival(update.item),
      drop: (update, why) => this.#gateDrop(update, why),
    });
    this.#queue = new TransmitLimitedQueue({
      // Registrations are rarer than membership news and matter more: sent at least as often as on a LAN.
      retransmitMult: Math.max(4, settings.config.retransmitMult),
      // As memberlist: every member still in the table counts, the recently dead included.
      numNodes: () => this.swim.members.size,
      onQueued: () => this.swim.wakeGossip(),
    });
    this.swim = new SwimNode({
      transport,
      clock,
      config: settings.config,
      layers: { label: labelBytes(settings.label), keyring: settings.keyring, compression: settings.config.enableCompression },
      name: settings.name,
      ...(this.#serf ? { meta: SerfProfile.meta(settings.tags), vsn: SERF_VSN } : {}),
      delegate: {
        notifyMsg: (payload, from) => this.#receive(payload, from),
        getBroadcasts: (overhead, limit) => this.#queue.take(overhead, limit),
        localState: () => this.#localState(),
        mergeRemoteState: (state) => this.#mergeState(state),
      },
      onEvent: (event) => this.#onMember(event),
      onRefute: () => this.#reannounce(),
    });
  }

  /** This member's keys, changed while it runs: install the new key everywhere, use it on each member, remove the old. */
  get keyring(): GossipKeyring {
    return this.#keyring;
  }

  get memberName(): string {
    return this.swim.name;
  }

  /** Where other members reach this one. */
  get address(): Address {
    return this.swim.address;
  }

  async #begin(): Promise<void> {
    this.swim.start();
    if (this.#seeds.length === 0) {
      // The first member: its join time goes out in push/pulls.
      this.#serf?.joinIntent();
      return;
    }
    const joined = await this.swim.join(this.#seeds);
    // After the join's push/pull, so our status time is above what the cluster knows.
    if (this.#serf) void this.#sendIntent(this.#serf.joinIntent());
    if (joined === 0) {
      this.log.warn({ seeds: this.#seeds.map(formatAddress) }, 'no seed answered; retrying in the background');
      this.#scheduleRejoin();
    }
  }

  /** While no peer is reachable, the seeds are tried again with a doubling delay. */
  #scheduleRejoin(): void {
    if (this.#rejoinTimer || this.closed || this.#seeds.length === 0) return;
    this.#rejoinTimer = this.clock.setTimeout(async () => {
      this.#rejoinTimer = undefined;
      if (this.closed || this.swim.liveMembers().length > 0) return;
      const joined = await this.swim.join(this.#seeds).catch(() => 0);
      if (joined > 0) this.#rejoinDelay = REJOIN_MIN_MS;
      else {
        this.#rejoinDelay = Math.min(REJOIN_MAX_MS, this.#rejoinDelay * 2);
        this.#scheduleRejoin();
      }
    }, this.#rejoinDelay);
  }

  #onMember(event: MemberEvent): void {
    if (event.type === 'join') {
      this.#gate.known(event.member.name);
      this.#greet(event.member);
    }
    if (event.type === 'leave') {
      this.#gate.gone(event.member.name);
      const dropped = this.#entries.dropOrigin(event.member.name);
      if (dropped > 0) this.counters.originsDropped++;
    }
    const live = this.swim.liveMembers().length;
    if (live > 0) {
      this.#hadPeers = true;
      this.setBlind(undefined);
    } else if (this.#hadPeers && !this.closed) {
      this.setBlind(new RollcallError('UNAVAILABLE', 'no gossip peer is reachable; retrying the seeds', { adapter: 'gossip' }));
      this.#scheduleRejoin();
    }
  }

  // --- publishing ---

  /**
   * Sends a member we just learned of our own nodes, one packet each: it may have joined through
   * another seed after we registered, and waiting for the next heartbeat or push/pull is slow.
   *
   * A member back from a partition holds our nodes as tombstones at the sequence of the last update
   * it had from us, so it needs a newer one. One fresh heartbeat per node serves every member that
   * joins within a probe interval: each fresh one spreads through the whole cluster (every member
   * that has not seen it passes it on), so stamping one per join made a partition heal of m members
   * cost m x nodes cluster-wide broadcasts instead of nodes. Reusing it is safe for that long: a
   * member can only hold a tombstone at its sequence after receiving it and then declaring us dead,
   * which takes at least the suspicion timeout, several probe intervals.
   */
  #greet(member: { addr: Uint8Array; port: number; meta: Uint8Array }): void {
    const to = addressFromWire(member.addr, member.port);
    if (!to) return;
    const now = this.clock.now();
    for (const own of this.#own.values()) {
      if (own.service && (own.greeted === undefined || now - own.greeted >= this.#settings.config.probeInterval)) {
        this.#publish(own.service, 'create', own.ttl, own.claim, true);
        own.greeted = now;
      }
      if (!own.payload) continue;
      const message = encodeUserPacket(own.payload);
      if (this.#fits(own.payload, message)) void this.swim.net.sendPacket(to, message);
      else if (this.#isRollcall(member)) this.swim.net.sendUserStream(to, own.payload).catch(() => {});
    }
  }

  /**
   * We refuted a suspicion or a death: members that held us dead dropped our nodes, and their
   * tombstones outrank the sequence our last update carries, while their origin gate drops anything
   * stamped with the incarnation they buried. A heartbeat of each node now, at the new incarnation,
   * brings the nodes back as soon as they see us alive instead of at the next renewal (ttl / 3).
   */
  #reannounce(): void {
    for (const own of this.#own.values()) if (own.service) this.#publish(own.service, 'create', own.ttl, own.claim, true);
  }

  /**
   * Whether a user message may go as a broadcast: `message` (the payload framed as a user packet)
   * fits a packet, and (serf) the payload fits serf's user event limit.
   */
  #fits(payload: Uint8Array, message: Uint8Array): boolean {
    if (this.#serf && !SerfProfile.fitsEvent(payload)) return false;
    return message.length <= this.#packetRoom();
  }

  /** A member that reads our updates over TCP: every member, or in the serf profile those tagged as rollcall's. */
  #isRollcall(member: { meta: Uint8Array }): boolean {
    return !this.#serf || decodeSerfTags(member.meta)[ROLLCALL_TAG] === '1';
  }

  /** A serf join or leave intent: to every live member at once, and queued so it spreads to the rest. */
  #sendIntent(intent: Uint8Array): Promise<unknown> {
    this.#queue.queue({ message: encodeUserPacket(intent), name: `serf-intent:${this.memberName}` });
    return this.#sendDirect(intent);
  }

  /** The room a user message has in one packet after the label, encryption and compound framing. */
  #packetRoom(): number {
    let room = this.#settings.config.udpBufferSize - labelOverhead(labelBytes(this.#settings.label));
    if (this.#settings.keyring) room -= encryptOverhead(1);
    return room - COMPOUND_HEADER_OVERHEAD - COMPOUND_PART_OVERHEAD;
  }

  /**
   * Applies our own change and sends it out. A change (not a heartbeat) also goes straight to every
   * live member in one packet each, so it arrives in one hop; the queue then spreads it to members
   * we do not know yet and covers lost packets.
   */
  #publish(service: Service, action: UpdateAction, ttl: number, claim: number, heartbeat = false): void {
    const seq = ++this.#seq;
    const prev = this.#lastChange;
    if (!heartbeat) this.#lastChange = seq;
    const deleted = action === 'delete';
    const key = nodeKey(service);
    this.#entries.apply({ origin: this.memberName, seq, claim, service, deleted, ttl });
    const message: RegistryMessage = {
      action,
      expires: BigInt(Date.now() + ttl) * 1_000_000n,
      data: serviceJson(service),
      origin: this.memberName,
      seq,
      ttl,
      claim,
      prev,
      incarnation: this.swim.members.local.incarnation,
    };
    this.counters.updatesSent++;
    const name = joinKey(`upd:${this.memberName}`, key);
    const update = encodeMessage(message);
    const payload = this.#serf ? this.#serf.wrap(update, key, deleted) : update;
    const own = this.#own.get(key);
    if (own && !deleted) {
      own.payload = payload;
      own.service = service;
    }
    // A change goes to every live member at once, which counts as all but one of our own sends of
    // it: receivers pass it on (epidemic, as serf relays a user event), so our queue keeps one more
    // gossip send as insurance and invalidates any older update of the node still queued. Sending it
    // the full retransmit count on top cost 10-20 % more bytes than serf for no extra reach.
    const queuedSends = heartbeat ? 0 : Math.max(0, this.#queue.transmitLimit - 1);
    if (!this.#enqueue(payload, name, deleted, queuedSends)) this.#sendLarge(payload);
    else if (!heartbeat) this.#sendDirect(payload);
  }

  #sendDirect(payload: Uint8Array): Promise<unknown> {
    const message = encodeUserPacket(payload);
    const sent: Promise<unknown>[] = [];
    for (const m of this.swim.liveMembers()) {
      const to = addressFromWire(m.addr, m.port);
      if (to) sent.push(this.swim.net.sendPacket(to, message));
    }
    return Promise.all(sent);
  }

  /** Queues a user message for gossip; false when it does not fit a packet (or, serf, a user event). */
  #enqueue(payload: Uint8Array, name: string, goodbye = false, alreadySent = 0): boolean {
    const message = encodeUserPacket(payload);
    if (!this.#fits(payload, message)) return false;
    if (goodbye) this.#goodbyes.add(name);
    else this.#goodbyes.delete(name);
    this.#queue.queue(
      {
        message,
        name,
        finished: goodbye ? () => this.#goodbyes.delete(name) : undefined,
      },
      alreadySent,
    );
    if (this.#queue.size > MAX_QUEUED) this.#queue.prune(MAX_QUEUED);
    return true;
  }

  /**
   * An update larger than a packet (or a serf user event): a TCP user message to each live member
   * (memberlist SendReliable); in the serf profile to rollcall members only.
   */
  #sendLarge(payload: Uint8Array): void {
    this.counters.largeUpdates++;
    for (const m of this.swim.liveMembers()) {
      const to = addressFromWire(m.addr, m.port);
      if (!to || !this.#isRollcall(m)) continue;
      this.swim.net
        .sendUserStream(to, payload)
        .catch((error: unknown) => this.noteBackendError(error, `sending a large update to ${m.name} failed`));
    }
  }

  // --- receiving ---

  /** A user message: in the serf profile, serf's own (an update arrives inside a user event). */
  #receive(wire: Uint8Array, from?: Address): void {
    if (!this.#serf) {
      this.#receiveUpdate(wire, wire, from);
      return;
    }
    let received: ReturnType<SerfProfile['receive']>;
    try {
      received = this.#serf.receive(wire);
    } catch (error) {
      this.counters.badUpdates++;
      this.noteDrop(`unreadable serf message: ${(error as Error).message}`, 'gossip');
      return;
    }
    if (received.kind === 'update') this.#receiveUpdate(received.update, received.relay, from);
    else if (received.kind === 'intent') {
      // Passed on as serf does, under the member's name so a newer intent replaces a queued older one.
      this.#queue.queue({ message: encodeUserPacket(received.relay), name: `serf-intent:${received.node}` });
    } else if (received.kind === 'refute') void this.#sendIntent(this.#serf.joinIntent());
  }

  /**
   * `payload` is the update; `wire` the user message it came in, which is what we pass on; `from`
   * the member that sent the packet, when it came in one.
   */
  #receiveUpdate(payload: Uint8Array, wire: Uint8Array, from?: Address): void {
    this.counters.updatesReceived++;
    let message: RegistryMessage;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      this.counters.badUpdates++;
      this.noteDrop(`unreadable update: ${(error as Error).message}`, 'gossip');
      return;
    }
    // Checked before parsing, so an oversized update costs no more than its length check.
    if (message.data.length > this.limits.maxNodeEncodedBytes) {
      this.counters.oversizedUpdates++;
      this.noteDrop(`update data of ${message.data.length} bytes is over ${this.limits.maxNodeEncodedBytes}`, 'gossip');
      return;
    }
    let service: Service;
    try {
      service = this.#readService(parseServiceJson(message.data));
    } catch (error) {
      this.counters.badServices++;
      this.noteDrop(`update data is not a service: ${(error as Error).message}`, 'gossip');
      return;
    }
    if (message.origin === undefined) {
      this.#receiveGoMicro(wire, message, service);
      return;
    }
    const origin = message.origin;
    if (origin === this.memberName) return;
    if (message.seq === undefined || message.ttl === undefined) {
      this.counters.badUpdates++;
      this.noteDrop('update without a sequence or ttl', 'gossip');
      return;
    }
    const arrival: Arrival = {
      message: { ...message, origin, seq: message.seq, ttl: message.ttl },
      service,
      payload: wire,
      fromOrigin: from !== undefined && this.#isAddressOf(origin, from),
    };
    this.#gate.submit({
      origin,
      seq: message.seq,
      prev: message.prev,
      // Heartbeats travel as `update`; every other action is a change later updates may name.
      change: message.action !== 'update',
      incarnation: message.incarnation,
      bytes: payload.length,
      item: arrival,
    });
  }

  #isAddressOf(name: string, from: Address): boolean {
    const member = this.swim.members.get(name);
    return member !== undefined && member.port === from.port && ipFromBytes(member.addr) === from.host;
  }

  #originStatus(origin: string): OriginStatus {
    const member = this.swim.members.get(origin);
    if (!member) return { state: 'unknown' };
    if (member.state === NodeState.dead || member.state === NodeState.left) return { state: 'gone', incarnation: member.incarnation };
    return { state: 'alive' };
  }

  #gateDrop(update: GatedUpdate<Arrival>, why: GateDrop): void {
    if (why === 'gone') this.counters.deadOriginUpdates++;
    else if (why === 'unknown') this.counters.unknownOriginDropped++;
    else this.counters.heldOverflow++;
    this.noteDrop(
      `update from ${update.origin}: ${why === 'gone' ? 'origin is dead or left' : why === 'unknown' ? 'origin never joined' : 'hold is full'}`,
      'gossip',
    );
  }

  /** An update the gate let through: applied per node, and passed on when it was new to us. */
  #applyArrival({ message, service, payload, fromOrigin }: Arrival): void {
    let applied = false;
    for (const node of service.nodes) {
      const change: EntryChange = {
        origin: message.origin,
        seq: message.seq,
        claim: message.claim ?? 0,
        service: withNodes(service, [node]),
        deleted: message.action === 'delete',
        ttl: message.ttl,
      };
      if (this.#entries.apply(change) === 'applied') applied = true;
      else this.counters.staleUpdates++;
    }
    // New to us: pass it on, under the same name so a newer one replaces it in our queue too. A
    // copy straight from its origin means the origin is spreading it itself: a change went to
    // every member it knows in one packet each, a heartbeat is in its gossip queue. Our sends then
    // only repair lost packets and reach members the origin did not know yet, and half the
    // retransmit count does that: a member that lost the origin's packet still gets about that
    // many copies from the others. A copy that came by gossip is the repair path, sent in full.
    if (applied && service.nodes.length === 1) {
      const alreadySent = fromOrigin ? Math.floor(this.#queue.transmitLimit / 2) : 0;
      if (this.#enqueue(payload, joinKey(`upd:${message.origin}`, nodeKey(service)), false, alreadySent)) this.counters.updatesRequeued++;
    }
  }

  /**
   * A Go Micro update: no origin or sequence, so it is deduplicated by a hash of its bytes and
   * kept until a delete or its expiry, clamped so a skewed sender clock cannot keep it forever.
   */
  #receiveGoMicro(payload: Uint8Array, message: RegistryMessage, service: Service): void {
    const deleted = message.action === 'delete';
    const hash = createHash('sha1').update(payload).digest('base64');
    // A repeated create is a retransmission (or a late one after a delete): ignored. A repeated
    // delete still removes a node that was registered again since (a delete's bytes never change).
    const registeredAgain = () => service.nodes.some((n) => this.#entries.get('', nodeKey(withNodes(service, [n])))?.deleted === false);
    if (this.#goSeen.has(hash) && !(deleted && registeredAgain())) return;
    this.#goSeen.set(hash, this.clock.now());
    if (this.#goSeen.size > MAX_QUEUED)
      for (const k of [...this.#goSeen.keys()].slice(0, this.#goSeen.size - MAX_QUEUED)) this.#goSeen.delete(k);
    const { min, max } = this.#settings.goMicroTtl;
    const left = message.expires === 0n ? max : Number(message.expires / 1_000_000n) - Date.now();
    const ttl = Math.min(max, Math.max(min, left));
    for (const node of service.nodes) {
      this.#entries.apply({ origin: '', seq: ++this.#goSeq, claim: 0, service: withNodes(service, [node]), deleted, ttl });
    }
    // Named by the nodes, not the bytes: a delete replaces the create still queued for them.
    const ids = service.nodes.map((n) => n.id).sort();
    this.#enqueue(payload, joinKey(`go:${service.name}`, service.version, ...ids));
  }

  #readService(json: unknown): Service {
    return normalizeService(json, { limits: this.limits, adapter: 'gossip', requireNodes: false, checkEncodedSize: false });
  }

  /**
   * Go Micro's state format (state.ts), so a Go Micro member merges it; each node stamped for
   * rollcall members. In the serf profile, serf's state, with our nodes' latest events.
   */
  #localState(): Uint8Array {
    if (this.#serf)
      return this.#serf.localState(
        (node) => this.#originStatus(node).state === 'gone',
        (key) => this.#own.has(key),
      );
    return encodeState(
      this.#entries.live().map(({ entry, remaining }) => ({
        origin: entry.origin,
        seq: entry.seq,
        claim: entry.claim,
        remaining,
        service: entry.service,
      })),
    );
  }

  /**
   * A peer's whole state: stamped nodes are applied like updates, each expiring after what it had
   * left at the peer; Go Micro's (no expiry) are kept at most the clamp window's `max`, and never
   * replace what we already hold for them (a delete seen here outranks a state that cannot date itself).
   */
  #mergeState(state: Uint8Array): void {
    // Go Micro sends an empty state outside a join.
    if (state.length === 0) return;
    if (this.#serf) {
      this.#mergeSerfState(this.#serf, state);
      return;
    }
    let decoded: ReturnType<typeof decodeState>;
    try {
      decoded = decodeState(state, { limits: this.limits });
    } catch (error) {
      this.noteDrop(`unreadable push/pull state: ${(error as Error).message}`, 'gossip');
      return;
    }
    for (let i = 0; i < decoded.dropped; i++) this.noteDrop('bad push/pull entry', 'gossip');
    const maxGo = this.#settings.goMicroTtl.max;
    for (const { service, stamp } of decoded.entries) {
      const origin = stamp?.origin ?? '';
      if (origin === this.memberName) continue;
      if (origin !== '') {
        const member = this.swim.members.get(origin);
        if (member && (member.state === NodeState.dead || member.state === NodeState.left)) continue;
      }
      for (const node of service.nodes) {
        const one = withNodes(service, [node]);
        if (origin !== '') {
          const ttl = Math.min(stamp?.remaining ?? 0, 2 ** 31 - 1);
          this.#entries.apply({ origin, seq: stamp?.seq ?? 0, claim: stamp?.claim ?? 0, service: one, deleted: false, ttl });
        } else if (this.#entries.get('', nodeKey(one)) === undefined) {
          const ttl = Math.min(stamp?.remaining ?? maxGo, maxGo);
          this.#entries.apply({ origin: '', seq: ++this.#goSeq, claim: 0, service: one, deleted: false, ttl });
        }
      }
    }
  }

  /** Serf's state: the registry updates among its recent events arrive as if gossiped; members it lists as left lose their nodes. */
  #mergeSerfState(serf: SerfProfile, state: Uint8Array): void {
    let merged: ReturnType<SerfProfile['mergeState']>;
    try {
      merged = serf.mergeState(state);
    } catch (error) {
      this.noteDrop(`unreadable serf push/pull state: ${(error as Error).message}`, 'gossip');
      return;
    }
    for (const { update, relay } of merged.updates) this.#receiveUpdate(update, relay);
    for (const node of merged.left) {
      if (this.#originStatus(node).state === 'alive') continue;
      this.#gate.gone(node);
      if (this.#entries.dropOrigin(node) > 0) this.counters.originsDropped++;
    }
  }

  // --- AdapterBase ---

  protected async put(service: Service, ttl: number): Promise<RegistrationOps> {
    const claim = Math.max(this.#entries.highestClaim + 1, Date.now());
    for (const node of service.nodes) {
      const one = withNodes(service, [node]);
      this.#own.set(nodeKey(one), { claim, ttl });
      this.#publish(one, 'create', ttl, claim);
    }
    return {
      renew: async (current) => {
        for (const node of current.nodes) {
          const one = withNodes(current, [node]);
          const own = this.#own.get(nodeKey(one));
          // 'create', as Go Micro re-registers: its registry ignores 'update' and would expire the node.
          if (own) this.#publish(one, 'create', own.ttl, own.claim, true);
        }
        return true;
      },
      restore: async (current) => {
        await this.put(current, ttl);
      },
      remove: async (current) => {
        for (const node of current.nodes) {
          const one = withNodes(current, [node]);
          const key = nodeKey(one);
          const own = this.#own.get(key);
          if (own?.claim !== claim) continue;
          this.#own.delete(key);
          this.#publish(one, 'delete', ttl, claim);
        }
      },
      stop: (current) => {
        for (const node of current.nodes) {
          const key = nodeKey(withNodes(current, [node]));
          if (this.#own.get(key)?.claim === claim) this.#own.delete(key);
        }
      },
    };
  }

  protected async remove(service: Service): Promise<void> {
    for (const node of service.nodes) {
      const one = withNodes(service, [node]);
      const key = nodeKey(one);
      const own = this.#own.get(key);
      if (own) this.#own.delete(key);
      this.#publish(one, 'delete', this.defaultTtl, own?.claim ?? 0);
    }
  }

  /** The cluster as SWIM sees it, this member included. */
  async members(): Promise<Member[]> {
    this.assertOpen();
    return this.swim.members.all().map((m) => {
      const at = addressFromWire(m.addr, m.port);
      // A member that announced its leave and is gone left, as serf counts it; one that went silent failed.
      const gone = m.state === NodeState.dead || m.state === NodeState.left;
      const status = this.#serf && gone ? (this.#serf.isLeaving(m.name) || m.state === NodeState.left ? 'left' : 'failed') : undefined;
      return Object.freeze({
        name: m.name,
        address: at ? formatAddress(at) : '',
        status: status ?? STATE_NAMES[m.state] ?? String(m.state),
        tags: Object.freeze(this.#serf ? decodeSerfTags(m.meta) : {}),
      });
    });
  }

  protected async shutdown(): Promise<void> {
    this.#rejoinTimer?.cancel();
    if (!this.#crashed && this.swim.liveMembers().length > 0) {
      // Goodbyes go out with the next gossip rounds: wait until each was sent its share of times.
      const config = this.#settings.config;
      const until = this.clock.now() + config.gossipInterval * (this.#queue.transmitLimit + 2);
      while (this.#goodbyes.size > 0 && this.clock.now() < until) {
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, config.gossipInterval / 2));
      }
      const peers = this.swim.liveMembers();
      // Serf's order: the leave intent first, so serf lists us `left` rather than `failed`.
      if (this.#serf) await this.#sendIntent(this.#serf.leaveIntent());
      await this.swim.leave(Math.max(500, config.probeTimeout * 2));
      // Gossip picks its targets at random: tell every member directly too, so none keeps counting
      // a member that left as alive (and gossiping to it) until suspicion runs out.
      const local = this.swim.members.local;
      const dead = encodeDead({ incarnation: local.incarnation, node: local.name, from: local.name });
      await Promise.all(
        peers.map((m) => {
          const to = addressFromWire(m.addr, m.port);
          return to ? this.swim.net.sendPacket(to, dead) : undefined;
        }),
      );
    }
    await this.swim.close();
    this.#gate.close();
    this.#entries.close();
    this.#queue.reset();
  }

  protected override extraStats(): Record<string, number | string> {
    return {
      member: this.memberName,
      address: formatAddress(this.address),
      liveMembers: this.closed ? 0 : this.swim.liveMembers().length,
      entries: this.#entries.size,
      expired: this.#entries.expired,
      queued: this.#queue.size,
      held: this.#gate.heldCount,
      heldUpdates: this.#gate.heldTotal,
      heldBytes: this.#gate.heldBytes,
      heldReleased: this.#gate.released,
      ...this.counters,
    };
  }

  /** @internal Ends the registry as a crash would: no goodbyes, no leave. */
  crash(): Promise<void> {
    this.#crashed = true;
    this.crashNow();
    return this.close();
  }
}
