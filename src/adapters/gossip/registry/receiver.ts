/**
 * The gossip registry's receive side: user messages (rollcall's and Go Micro's updates, serf's
 * events and intents in the serf profile) and peers' push/pull state, decoded, checked, put in
 * per-origin order by the {@link OriginGate}, applied to the {@link Entries} and relayed when new.
 * Every drop is counted by its own counter. The registry owns the sending side and the lifecycle.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../../internal/clock.js';
import { joinKey } from '../../../internal/keys.js';
import type { Address } from '../../../internal/transport.js';
import type { Service } from '../../../registry.js';
import { normalizeService, type SizeLimits, withNodes } from '../../../service.js';
import { ipFromBytes } from '../net-address.js';
import type { SwimConfig } from '../swim/config.js';
import type { Member } from '../swim/members.js';
import { NodeState } from '../wire/messages.js';
import { type Entries, type EntryChange, nodeKey } from './entries.js';
import { decodeMessage, parseServiceJson, type RegistryMessage } from './message.js';
import { type GateDrop, type GatedUpdate, OriginGate, type OriginStatus } from './origin-order.js';
import type { SerfProfile } from './serf-profile.js';
import type { GoMicroTtlWindow } from './settings.js';
import { decodeState } from './state.js';

/** Go Micro updates remembered for deduplication (the freshest). */
const MAX_GO_SEEN = 4096;
/** Updates waiting for their origin or for an earlier change: at most this many, and this many bytes. */
const MAX_HELD = 1024;
const MAX_HELD_BYTES = 2 * 1024 * 1024;

/** What the registry counts; the receive side moves all but `updatesSent` and `largeUpdates`. */
export interface GossipCounters {
  updatesSent: number;
  updatesReceived: number;
  updatesRequeued: number;
  staleUpdates: number;
  largeUpdates: number;
  originsDropped: number;
  /** Not a readable `gossip.Update` (protobuf, action, stamp). */
  badUpdates: number;
  /** The data is not JSON of a valid Service. */
  badServices: number;
  /** The Service JSON is over the per-node size limit. */
  oversizedUpdates: number;
  /** From an origin SWIM holds dead or left at the same or a later incarnation. */
  deadOriginUpdates: number;
  /** Held for an origin that never joined within the bound. */
  unknownOriginDropped: number;
  /** Held updates dropped because the hold was full. */
  heldOverflow: number;
}

export function newCounters(): GossipCounters {
  return {
    updatesSent: 0,
    updatesReceived: 0,
    updatesRequeued: 0,
    staleUpdates: 0,
    largeUpdates: 0,
    originsDropped: 0,
    badUpdates: 0,
    badServices: 0,
    oversizedUpdates: 0,
    deadOriginUpdates: 0,
    unknownOriginDropped: 0,
    heldOverflow: 0,
  };
}

/** What the receive side needs of the registry. */
export interface ReceiverContext {
  clock: Clock;
  config: SwimConfig;
  entries: Entries;
  counters: GossipCounters;
  limits: SizeLimits;
  goMicroTtl: GoMicroTtlWindow;
  /** The serf profile's clocks and intents; undefined in the memberlist profile. */
  serf: SerfProfile | undefined;
  /** This member's name. */
  self(): string;
  /** A member as SWIM knows it. */
  member(name: string): Member | undefined;
  noteDrop(reason: string): void;
  /** Queues a user message for gossip under `name`, counted as sent `alreadySent` times; false when it does not fit a packet. */
  relay(payload: Uint8Array, name: string, alreadySent?: number): boolean;
  /** Passes on a serf join or leave intent of `node`. */
  relayIntent(wire: Uint8Array, node: string): void;
  /** Serf asked us to refute a leave: send our join intent again. */
  refuteLeave(): void;
  /** How many times the registry's queue sends each broadcast now. */
  transmitLimit(): number;
}

/** An update that passed decoding, as the origin gate holds and applies it. */
interface Arrival {
  message: RegistryMessage & { origin: string; seq: number; ttl: number };
  service: Service;
  payload: Uint8Array;
  /** The change came straight from its origin: the origin's eager push to every member it knows. */
  fromOrigin: boolean;
}

export class UpdateReceiver {
  readonly gate: OriginGate<Arrival>;
  readonly #c: ReceiverContext;
  /** Go Micro updates seen, by a hash of their bytes, oldest first. */
  readonly #goSeen = new Set<string>();
  /** Sequence for Go Micro nodes, which carry none of their own. */
  #goSeq = 0;

  constructor(context: ReceiverContext) {
    this.#c = context;
    const { config } = context;
    this.gate = new OriginGate<Arrival>({
      clock: context.clock,
      // A later change overtook an earlier one: a few gossip rounds bring the earlier one.
      gapHoldMs: Math.max(250, 5 * config.gossipInterval),
      // A new member's alive message usually reaches everyone within a few gossip rounds, but its
      // few retransmissions can all miss a member (2 on the local preset); that member still learns
      // of it at its next push/pull, which it starts once per interval with a peer that knows.
      unknownHoldMs: config.pushPullInterval + Math.max(5 * config.probeInterval, 25 * config.gossipInterval),
      maxHeld: MAX_HELD,
      maxHeldBytes: MAX_HELD_BYTES,
      status: (origin) => this.originStatus(origin),
      apply: (update) => this.#apply(update.item),
      drop: (update, why) => this.#gateDrop(update, why),
    });
  }

  /** Whether SWIM holds `origin` alive, gone (dead or left, at which incarnation) or not at all. */
  originStatus(origin: string): OriginStatus {
    const member = this.#c.member(origin);
    if (!member) return { state: 'unknown' };
    if (member.state === NodeState.dead || member.state === NodeState.left) return { state: 'gone', incarnation: member.incarnation };
    return { state: 'alive' };
  }

  /** A user message: in the serf profile, serf's own (an update arrives inside a user event). */
  receive(wire: Uint8Array, from?: Address): void {
    const { serf, counters } = this.#c;
    if (!serf) {
      this.#receiveUpdate(wire, wire, from);
      return;
    }
    let received: ReturnType<SerfProfile['receive']>;
    try {
      received = serf.receive(wire);
    } catch (error) {
      counters.badUpdates++;
      this.#c.noteDrop(`unreadable serf message: ${(error as Error).message}`);
      return;
    }
    if (received.kind === 'update') this.#receiveUpdate(received.update, received.relay, from);
    // Passed on as serf does, under the member's name so a newer intent replaces a queued older one.
    else if (received.kind === 'intent') this.#c.relayIntent(received.relay, received.node);
    else if (received.kind === 'refute') this.#c.refuteLeave();
  }

  /**
   * A peer's whole state: stamped nodes are applied like updates, each expiring after what it had
   * left at the peer; Go Micro's (no expiry) are kept at most the clamp window's `max`, and never
   * replace what we already hold for them (a delete seen here outranks a state that cannot date itself).
   */
  mergeState(state: Uint8Array): void {
    // Go Micro sends an empty state outside a join.
    if (state.length === 0) return;
    const { serf, entries } = this.#c;
    if (serf) {
      this.#mergeSerfState(serf, state);
      return;
    }
    let decoded: ReturnType<typeof decodeState>;
    try {
      decoded = decodeState(state, { limits: this.#c.limits });
    } catch (error) {
      this.#c.noteDrop(`unreadable push/pull state: ${(error as Error).message}`);
      return;
    }
    for (let i = 0; i < decoded.dropped; i++) this.#c.noteDrop('bad push/pull entry');
    const maxGo = this.#c.goMicroTtl.max;
    const self = this.#c.self();
    for (const { service, stamp } of decoded.entries) {
      const origin = stamp?.origin ?? '';
      if (origin === self) continue;
      if (origin !== '' && this.originStatus(origin).state === 'gone') continue;
      for (const node of service.nodes) {
        const one = withNodes(service, [node]);
        if (origin !== '') {
          const ttl = Math.min(stamp?.remaining ?? 0, 2 ** 31 - 1);
          entries.apply({ origin, seq: stamp?.seq ?? 0, claim: stamp?.claim ?? 0, service: one, deleted: false, ttl });
        } else if (entries.get('', nodeKey(one)) === undefined) {
          const ttl = Math.min(stamp?.remaining ?? maxGo, maxGo);
          entries.apply({ origin: '', seq: ++this.#goSeq, claim: 0, service: one, deleted: false, ttl });
        }
      }
    }
  }

  /**
   * `payload` is the update; `wire` the user message it came in, which is what we pass on; `from`
   * the member that sent the packet, when it came in one.
   */
  #receiveUpdate(payload: Uint8Array, wire: Uint8Array, from?: Address): void {
    const { counters, limits } = this.#c;
    counters.updatesReceived++;
    let message: RegistryMessage;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      counters.badUpdates++;
      this.#c.noteDrop(`unreadable update: ${(error as Error).message}`);
      return;
    }
    // Checked before parsing, so an oversized update costs no more than its length check.
    if (message.data.length > limits.maxNodeEncodedBytes) {
      counters.oversizedUpdates++;
      this.#c.noteDrop(`update data of ${message.data.length} bytes is over ${limits.maxNodeEncodedBytes}`);
      return;
    }
    let service: Service;
    try {
      service = normalizeService(parseServiceJson(message.data), {
        limits,
        adapter: 'gossip',
        requireNodes: false,
        checkEncodedSize: false,
      });
    } catch (error) {
      counters.badServices++;
      this.#c.noteDrop(`update data is not a service: ${(error as Error).message}`);
      return;
    }
    if (message.origin === undefined) {
      this.#receiveGoMicro(wire, message, service);
      return;
    }
    const origin = message.origin;
    if (origin === this.#c.self()) return;
    if (message.seq === undefined || message.ttl === undefined) {
      counters.badUpdates++;
      this.#c.noteDrop('update without a sequence or ttl');
      return;
    }
    const arrival: Arrival = {
      message: { ...message, origin, seq: message.seq, ttl: message.ttl },
      service,
      payload: wire,
      fromOrigin: from !== undefined && this.#isAddressOf(origin, from),
    };
    this.gate.submit({
      origin,
      seq: message.seq,
      prev: message.prev,
      // Every action but `update` is a change later updates may name. Our heartbeats travel as
      // `create` (Go Micro applies only create and delete), so they count too: that only lets a
      // later update through sooner, and per-node last-writer-wins by sequence keeps it right.
      change: message.action !== 'update',
      incarnation: message.incarnation,
      bytes: payload.length,
      item: arrival,
    });
  }

  #isAddressOf(name: string, from: Address): boolean {
    const member = this.#c.member(name);
    return member !== undefined && member.port === from.port && ipFromBytes(member.addr) === from.host;
  }

  #gateDrop(update: GatedUpdate<Arrival>, why: GateDrop): void {
    const { counters } = this.#c;
    if (why === 'gone') counters.deadOriginUpdates++;
    else if (why === 'unknown') counters.unknownOriginDropped++;
    else counters.heldOverflow++;
    this.#c.noteDrop(
      `update from ${update.origin}: ${why === 'gone' ? 'origin is dead or left' : why === 'unknown' ? 'origin never joined' : 'hold is full'}`,
    );
  }

  /** An update the gate let through: applied per node, and passed on when it was new to us. */
  #apply({ message, service, payload, fromOrigin }: Arrival): void {
    const { counters, entries } = this.#c;
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
      if (entries.apply(change) === 'applied') applied = true;
      else counters.staleUpdates++;
    }
    // New to us: pass it on, under the same name so a newer one replaces it in our queue too. A
    // copy straight from its origin means the origin is spreading it itself: a change went to
    // every member it knows in one packet each, a heartbeat is in its gossip queue. Our sends then
    // only repair lost packets and reach members the origin did not know yet, and half the
    // retransmit count does that: a member that lost the origin's packet still gets about that
    // many copies from the others. A copy that came by gossip is the repair path, sent in full.
    if (applied && service.nodes.length === 1) {
      const alreadySent = fromOrigin ? Math.floor(this.#c.transmitLimit() / 2) : 0;
      if (this.#c.relay(payload, joinKey(`upd:${message.origin}`, nodeKey(service)), alreadySent)) counters.updatesRequeued++;
    }
  }

  /**
   * A Go Micro update: no origin or sequence, so it is deduplicated by a hash of its bytes and
   * kept until a delete or its expiry, clamped so a skewed sender clock cannot keep it forever.
   */
  #receiveGoMicro(payload: Uint8Array, message: RegistryMessage, service: Service): void {
    const { entries } = this.#c;
    const deleted = message.action === 'delete';
    const hash = createHash('sha1').update(payload).digest('base64');
    // A repeated create is a retransmission (or a late one after a delete): ignored. A repeated
    // delete still removes a node that was registered again since (a delete's bytes never change).
    const registeredAgain = () => service.nodes.some((n) => entries.get('', nodeKey(withNodes(service, [n])))?.deleted === false);
    if (this.#goSeen.has(hash) && !(deleted && registeredAgain())) return;
    this.#goSeen.add(hash);
    // One in, the oldest out: no copy of the whole set per update once it is full.
    if (this.#goSeen.size > MAX_GO_SEEN) this.#goSeen.delete(this.#goSeen.values().next().value as string);
    const { min, max } = this.#c.goMicroTtl;
    const left = message.expires === 0n ? max : Number(message.expires / 1_000_000n) - Date.now();
    const ttl = Math.min(max, Math.max(min, left));
    for (const node of service.nodes) {
      entries.apply({ origin: '', seq: ++this.#goSeq, claim: 0, service: withNodes(service, [node]), deleted, ttl });
    }
    // Named by the nodes, not the bytes: a delete replaces the create still queued for them.
    const ids = service.nodes.map((n) => n.id).sort();
    this.#c.relay(payload, joinKey(`go:${service.name}`, service.version, ...ids));
  }

  /** Serf's state: the registry updates among its recent events arrive as if gossiped; members it lists as left lose their nodes. */
  #mergeSerfState(serf: SerfProfile, state: Uint8Array): void {
    let merged: ReturnType<SerfProfile['mergeState']>;
    try {
      merged = serf.mergeState(state);
    } catch (error) {
      this.#c.noteDrop(`unreadable serf push/pull state: ${(error as Error).message}`);
      return;
    }
    for (const { update, relay } of merged.updates) this.#receiveUpdate(update, relay);
    for (const node of merged.left) {
      if (this.originStatus(node).state === 'alive') continue;
      this.gate.gone(node);
      if (this.#c.entries.dropOrigin(node) > 0) this.#c.counters.originsDropped++;
    }
  }
}
