/**
 * The gossip registry: AdapterBase on a {@link SwimNode}. Each registered node travels as one
 * `gossip.Update` user message, piggybacked on SWIM traffic through a transmit-limited queue named
 * per (origin, node) so a newer update replaces a queued older one; receivers apply what is new to
 * them and queue it again, so it spreads epidemically; updates too large for a packet go over TCP
 * to every live member. Push/pull carries the whole state. A member SWIM declares dead or left
 * takes its nodes with it at once. This file is the sending side and the lifecycle; what arrives
 * (user messages, a peer's state) is decoded, ordered and applied by receiver.ts.
 * @module
 */
import { LocalViewAdapter } from '../../../adapter.js';
import { adapterLogger } from '../../../diagnostics.js';
import { RollcallError } from '../../../errors.js';
import { type Clock, systemClock, type Timer } from '../../../internal/clock.js';
import { joinKey } from '../../../internal/keys.js';
import { type Address, formatAddress, type Transport } from '../../../internal/transport.js';
import { bindNetTransport } from '../../../internal/transport-net.js';
import type { RegistrationOps } from '../../../registration.js';
import type { Member, Service } from '../../../registry.js';
import { withNodes } from '../../../service.js';
import { addressFromWire } from '../net-address.js';
import { TransmitLimitedQueue } from '../swim/broadcast.js';
import type { MemberEvent } from '../swim/members.js';
import { SwimNode } from '../swim/node.js';
import { COMPOUND_HEADER_OVERHEAD, COMPOUND_PART_OVERHEAD } from '../wire/compound.js';
import { labelBytes } from '../wire/label.js';
import { encodeDead, encodeUserPacket, NodeState } from '../wire/messages.js';
import { Entries, nodeKey } from './entries.js';
import { type GossipKeyring, keyringControl } from './keyring-control.js';
import { encodeMessage, type RegistryMessage, serviceJson, type UpdateAction } from './message.js';
import { type GossipCounters, newCounters, UpdateReceiver } from './receiver.js';
import { decodeSerfTags } from './serf-events.js';
import { ROLLCALL_TAG, SERF_VSN, SerfProfile } from './serf-profile.js';
import type { GossipOptions, GossipSettings } from './settings.js';
import { encodeState } from './state.js';

/** Queued updates kept at most (the freshest); older ones still reach everyone through push/pull. */
const MAX_QUEUED = 4096;
/** Rejoining the seeds while no peer is reachable: first after 1 s, doubling up to 30 s. */
const REJOIN_MIN_MS = 1_000;
const REJOIN_MAX_MS = 30_000;

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
    }
  >();
  /** When our nodes were last stamped afresh to greet a member (clock ms). */
  #greetedAt = Number.NEGATIVE_INFINITY;
  /** Goodbyes not yet sent as often as the queue sends each broadcast. */
  readonly #goodbyes = new Set<string>();
  #hadPeers = false;
  #rejoinTimer: Timer | undefined;
  #rejoinDelay = REJOIN_MIN_MS;
  #crashed = false;
  /** Our sequence of our last change (not heartbeat): the `prev` of what we send next. */
  #lastChange = 0;
  readonly #receiver: UpdateReceiver;
  readonly #keyring: GossipKeyring;
  /** The serf profile's clocks and intents; undefined in the memberlist profile. */
  readonly #serf: SerfProfile | undefined;
  readonly counters: GossipCounters = newCounters();

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
    this.#receiver = new UpdateReceiver({
      clock,
      config,
      entries: this.#entries,
      counters: this.counters,
      limits: this.limits,
      goMicroTtl: settings.goMicroTtl,
      serf: this.#serf,
      self: () => this.memberName,
      member: (name) => this.swim.members.get(name),
      noteDrop: (reason) => this.noteDrop(reason, 'gossip'),
      relay: (payload, name, alreadySent) => this.#enqueue(payload, name, false, alreadySent),
      relayIntent: (wire, node) => this.#queueIntent(wire, node),
      refuteLeave: () => {
        if (this.#serf) void this.#sendIntent(this.#serf.joinIntent());
      },
      transmitLimit: () => this.#queue.transmitLimit,
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
        notifyMsg: (payload, from) => this.#receiver.receive(payload, from),
        getBroadcasts: (overhead, limit) => this.#queue.take(overhead, limit),
        localState: () => this.#localState(),
        mergeRemoteState: (state) => this.#receiver.mergeState(state),
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
      this.#receiver.gate.known(event.member.name);
      this.#greet(event.member);
    }
    if (event.type === 'leave') {
      this.#receiver.gate.gone(event.member.name);
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
    // A node registered since the last greeting carries a sequence newer than any tombstone already.
    const fresh = now - this.#greetedAt >= this.#settings.config.probeInterval;
    if (fresh) this.#greetedAt = now;
    for (const own of this.#own.values()) {
      if (fresh && own.service) this.#publish(own.service, 'create', own.ttl, own.claim, true);
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
    return message.length <= this.swim.packetBudget - COMPOUND_HEADER_OVERHEAD - COMPOUND_PART_OVERHEAD;
  }

  /** A member that reads our updates over TCP: every member, or in the serf profile those tagged as rollcall's. */
  #isRollcall(member: { meta: Uint8Array }): boolean {
    return !this.#serf || decodeSerfTags(member.meta)[ROLLCALL_TAG] === '1';
  }

  /** A serf join or leave intent: to every live member at once, and queued so it spreads to the rest. */
  #sendIntent(intent: Uint8Array): Promise<unknown> {
    this.#queueIntent(intent, this.memberName);
    return this.#sendDirect(intent);
  }

  /** Queues `node`'s intent under its name, so a newer intent replaces a queued older one (as serf does). */
  #queueIntent(intent: Uint8Array, node: string): void {
    this.#queue.queue({ message: encodeUserPacket(intent), name: `serf-intent:${node}` });
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

  /**
   * Go Micro's state format (state.ts), so a Go Micro member merges it; each node stamped for
   * rollcall members. In the serf profile, serf's state, with our nodes' latest events.
   */
  #localState(): Uint8Array {
    if (this.#serf)
      return this.#serf.localState(
        (node) => this.#receiver.originStatus(node).state === 'gone',
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
    this.#receiver.gate.close();
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
      held: this.#receiver.gate.heldCount,
      heldUpdates: this.#receiver.gate.heldTotal,
      heldBytes: this.#receiver.gate.heldBytes,
      heldReleased: this.#receiver.gate.released,
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
