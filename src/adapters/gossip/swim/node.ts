/**
 * One SWIM member (memberlist's Memberlist with Lifeguard): the member table, the probe loop with
 * indirect and TCP fallback probes, the gossip loop, periodic push/pull, and serf-style reconnects
 * to failed members, all on the {@link Clock} and the transport seam so the same code runs on real
 * sockets and on the in-memory network with a simulated clock.
 * @module
 */
import type { Clock, Timer } from '../../../internal/clock.js';
import type { Address, Transport } from '../../../internal/transport.js';
import { Net } from '../net.js';
import { addressFromWire, ipToBytes } from '../net-address.js';
import { COMPOUND_HEADER_OVERHEAD, COMPOUND_PART_OVERHEAD, encodeCompound } from '../wire/compound.js';
import { labelOverhead } from '../wire/label.js';
import type { WireLayers } from '../wire/layers.js';
import {
  encodeAck,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodeSuspect,
  type IndirectPing,
  NodeState,
  type Ping,
  type PushPull,
} from '../wire/messages.js';
import { encryptOverhead } from '../wire/security.js';
import { Awareness } from './awareness.js';
import { TransmitLimitedQueue } from './broadcast.js';
import type { SwimConfig } from './config.js';
import { initialIncarnation, type Member, type MemberEvent, Members } from './members.js';
import { pushPullScale } from './timing.js';

/** What the layer above (the registry) plugs in: memberlist's Delegate. */
export interface SwimDelegate {
  /** A user message arrived (packet or stream). */
  notifyMsg?(payload: Uint8Array, from: Address): void;
  /** User messages to piggyback, already encoded as `[8][payload]`, within `limit` bytes counting `overhead` each. */
  getBroadcasts?(overhead: number, limit: number): Uint8Array[];
  /** Our user state for a push/pull. */
  localState?(join: boolean): Uint8Array;
  /** A peer's user state from a push/pull. */
  mergeRemoteState?(state: Uint8Array, join: boolean): void;
}

export interface SwimNodeOptions {
  transport: Transport;
  clock: Clock;
  config: SwimConfig;
  layers: WireLayers;
  /** Unique in the cluster. */
  name: string;
  /** @default empty */
  meta?: Uint8Array;
  /** `[PMin, PMax, PCur, DMin, DMax, DCur]`. @default [1, 5, 2, 0, 0, 0] (plain memberlist, Go Micro) */
  vsn?: readonly number[];
  /** @default derived from the wall clock, so a restart starts above its previous life */
  incarnation?: number;
  delegate?: SwimDelegate;
  onEvent?: (event: MemberEvent) => void;
  /** We were suspected or declared dead and answered at a higher incarnation (now the local one). */
  onRefute?: () => void;
  /** @default Math.random */
  random?: () => number;
}

export interface SwimStats {
  probes: number;
  probesFailed: number;
  indirectProbes: number;
  tcpFallbacks: number;
  suspicionsStarted: number;
  refutations: number;
  gossipPackets: number;
  /** Gossip rounds run; none while nothing is queued (the loop sleeps). */
  gossipRounds: number;
  pushPulls: number;
  reconnects: number;
  /** Push/pulls started because our own timers fired late: the event loop had stalled. */
  stallSyncs: number;
}

const EMPTY = new Uint8Array(0);

/** A probe waiting for its ack: direct, relayed by an indirect probe, or nacked by a helper. */
interface AckWaiter {
  ack(): void;
  nack(): void;
}

export class SwimNode {
  readonly net: Net;
  readonly members: Members;
  readonly awareness: Awareness;
  readonly queue: TransmitLimitedQueue;
  /**
   * Bytes a packet's messages may take: the UDP budget less what the label and encryption add to
   * every packet. Fixed for the node's life (the label and whether there is a keyring do not change).
   */
  readonly packetBudget: number;
  readonly stats: SwimStats = {
    probes: 0,
    probesFailed: 0,
    indirectProbes: 0,
    tcpFallbacks: 0,
    suspicionsStarted: 0,
    refutations: 0,
    gossipPackets: 0,
    gossipRounds: 0,
    pushPulls: 0,
    reconnects: 0,
    stallSyncs: 0,
  };
  readonly #clock: Clock;
  readonly #config: SwimConfig;
  readonly #layers: WireLayers;
  readonly #delegate: SwimDelegate;
  readonly #random: () => number;
  readonly #waiters = new Map<number, AckWaiter>();
  readonly #timers = new Set<Timer>();
  /** Members declared dead (not left), with when, so reconnects can heal partitions. */
  readonly #failed = new Map<string, { member: Member; since: number }>();
  #seq = 0;
  #running = false;
  #closed = false;
  /** When the last stall sync started; -Infinity before the first. */
  #lastStallSync = Number.NEGATIVE_INFINITY;
  /** When the gossip loop last ran a round: a sleeping loop wakes on the same beat. */
  #gossipLast = 0;
  /** The gossip loop sleeps while nothing is queued; `wakeGossip()` restarts it. */
  #gossipAsleep = false;

  constructor(options: SwimNodeOptions) {
    this.#clock = options.clock;
    this.#config = options.config;
    this.#layers = options.layers;
    let budget = options.config.udpBufferSize - labelOverhead(options.layers.label);
    if (options.layers.keyring) budget -= encryptOverhead(options.layers.encryptionVersion ?? 1);
    this.packetBudget = budget;
    this.#delegate = options.delegate ?? {};
    this.#random = options.random ?? Math.random;
    this.awareness = new Awareness(options.config.awarenessMaxMultiplier);
    this.queue = new TransmitLimitedQueue({
      retransmitMult: options.config.retransmitMult,
      numNodes: () => this.members.size,
      onQueued: () => this.wakeGossip(),
    });
    const advertise = options.transport.advertiseAddress;
    this.members = new Members({
      clock: options.clock,
      config: options.config,
      queue: this.queue,
      awareness: this.awareness,
      random: this.#random,
      local: {
        name: options.name,
        addr: ipToBytes(advertise.host),
        port: advertise.port,
        meta: options.meta ?? EMPTY,
        vsn: Uint8Array.from(options.vsn ?? [1, 5, 2, 0, 0, 0]),
        incarnation: options.incarnation ?? initialIncarnation(),
      },
      onEvent: (event) => {
        if (event.type === 'leave' && event.member.state === NodeState.dead) {
          this.#failed.set(event.member.name, { member: event.member, since: this.#clock.now() });
        } else this.#failed.delete(event.member.name);
        options.onEvent?.(event);
      },
      onRefute: () => {
        this.stats.refutations++;
        options.onRefute?.();
      },
    });
    this.net = new Net({
      transport: options.transport,
      clock: options.clock,
      layers: options.layers,
      name: options.name,
      streamTimeout: options.config.tcpTimeout,
      handlers: {
        localState: (join) => ({ nodes: this.members.pushNodes(), userState: this.#delegate.localState?.(join) ?? EMPTY }),
        mergeRemoteState: (remote) => this.#merge(remote),
        protocolMax: (address) => this.#memberAt(address)?.vsn[1],
        ack: (ack) => this.#waiters.get(ack.seqNo)?.ack(),
        nack: (nack) => this.#waiters.get(nack.seqNo)?.nack(),
        indirectPing: (ind, from) => this.#relayProbe(ind, from),
        alive: (alive) => this.members.alive(alive),
        suspect: (suspect) => {
          if (this.members.suspect(suspect) && suspect.node !== this.members.local.name) this.stats.suspicionsStarted++;
        },
        dead: (dead) => this.members.dead(dead),
        user: (payload, from) => this.#delegate.notifyMsg?.(payload, from),
      },
    });
  }

  get name(): string {
    return this.members.local.name;
  }

  get address(): Address {
    return addressFromWire(this.members.local.addr, this.members.local.port) as Address;
  }

  /** Other members that are alive or suspect. */
  liveMembers(): Member[] {
    return this.members.all().filter((m) => m !== this.members.local && (m.state === NodeState.alive || m.state === NodeState.suspect));
  }

  /** Starts probing, gossip, push/pull and reconnects, each staggered at random as memberlist does. */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    const { probeInterval, gossipInterval, pushPullInterval, reconnectInterval } = this.#config;
    this.#every(
      () => probeInterval,
      () => this.#probe(),
      this.#random() * probeInterval,
    );
    this.#gossipRound(this.#random() * gossipInterval);
    if (pushPullInterval > 0) {
      const interval = () => pushPullScale(pushPullInterval, this.members.size);
      this.#every(interval, () => this.#pushPullRandom(), this.#random() * interval());
    }
    if (reconnectInterval > 0)
      this.#every(
        () => reconnectInterval,
        () => this.#reconnect(),
        reconnectInterval,
      );
  }

  /** Push/pull join with each address; resolves with how many answered (one unreachable seed does not fail the others). */
  async join(addresses: readonly Address[]): Promise<number> {
    let joined = 0;
    for (const address of addresses) {
      try {
        await this.net.pushPull(address, true);
        joined++;
      } catch {
        // Reported by the count: the caller decides whether zero is an error.
      }
    }
    return joined;
  }

  /** New meta for us, gossiped as alive at a higher incarnation. */
  updateMeta(meta: Uint8Array): void {
    this.members.updateLocal(meta);
  }

  /**
   * Graceful leave: `dead` about ourselves goes out ahead of everything queued; waits until it was
   * sent to enough peers or `timeoutMs` passed. Nobody to tell means no wait.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.members.leave();
    if (this.liveMembers().length === 0) return;
    const until = this.#clock.now() + timeoutMs;
    const key = `node:${this.name}`;
    this.#gossip();
    while (this.queue.has(key) && this.#clock.now() < until) {
      await new Promise<void>((resolve) =>
        this.#clock.setTimeout(resolve, Math.min(this.#config.gossipInterval, until - this.#clock.now())),
      );
      this.#gossip();
    }
  }

  /** Stops every loop and closes the transport, without a goodbye (a crash looks the same from outside). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    this.members.stop();
    for (const w of this.#waiters.values()) w.ack();
    this.#waiters.clear();
    await this.net.close();
  }

  /** One UDP ping to `to` (naming `node`), outside the probe loop: true when its ack arrives within `timeoutMs`. */
  async ping(to: Address, node: string, timeoutMs: number): Promise<boolean> {
    const ping = this.#pingTo(node);
    let acked = false;
    let wake: (() => void) | undefined;
    this.#waiters.set(ping.seqNo, {
      ack: () => {
        acked = true;
        wake?.();
      },
      nack: () => {},
    });
    try {
      void this.net.sendPacket(to, encodePing(ping));
      return await this.#waitForAck(
        () => acked,
        (w) => (wake = w),
        timeoutMs,
      );
    } finally {
      this.#waiters.delete(ping.seqNo);
    }
  }

  /** The TCP fallback ping, outside the probe loop: true when the ack came back over the stream. */
  pingStream(to: Address, node: string, timeoutMs?: number): Promise<boolean> {
    return this.net.pingStream(to, this.#pingTo(node), timeoutMs);
  }

  // --- loops ---

  /**
   * Something was queued for gossip (by us, or by the delegate into its own queue): a sleeping
   * gossip loop runs again, on the beat it would have kept had it never stopped.
   */
  wakeGossip(): void {
    if (!this.#gossipAsleep || !this.#running) return;
    this.#gossipAsleep = false;
    const interval = this.#config.gossipInterval;
    this.#gossipRound(interval - ((this.#clock.now() - this.#gossipLast) % interval));
  }

  /**
   * memberlist's gossip ticker, except that it sleeps while a round would find nothing to send:
   * such a round is a no-op on the wire, but a timer every gossip interval (100-200 ms) is a
   * good part of an idle member's CPU. Queuing anything wakes it (`wakeGossip`).
   */
  #gossipRound(delay: number): void {
    const due = this.#clock.now() + delay;
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      const now = this.#clock.now();
      this.#noticeLateness(now - due);
      if (!this.#running) return;
      this.#gossipLast = now;
      this.stats.gossipRounds++;
      const more = this.#gossip();
      if (!this.#running) return;
      if (more) this.#gossipRound(Math.max(0, this.#config.gossipInterval - (this.#clock.now() - now)));
      else this.#gossipAsleep = true;
    }, delay);
    this.#timers.add(timer);
  }

  /** Runs `fn` every `interval()`; a slow round delays the next one instead of piling up (Go tickers drop ticks). */
  #every(interval: () => number, fn: () => void | Promise<void>, firstDelay: number): void {
    const run = async () => {
      if (!this.#running) return;
      const started = this.#clock.now();
      try {
        await fn();
      } catch {
        // A loop must never die from one bad round; what failed was counted where it happened.
      }
      if (!this.#running) return;
      schedule(Math.max(0, interval() - (this.#clock.now() - started)));
    };
    const schedule = (ms: number) => {
      const due = this.#clock.now() + ms;
      const timer = this.#clock.setTimeout(() => {
        this.#timers.delete(timer);
        this.#noticeLateness(this.#clock.now() - due);
        void run();
      }, ms);
      this.#timers.add(timer);
    };
    schedule(firstDelay);
  }

  /**
   * A timer that fires later than a probe timeout means our event loop stalled (GC, a blocked
   * thread, SIGSTOP): peers may have suspected us meanwhile, and the gossip carrying that may have
   * gone to others. One push/pull fetches a peer's view of us at once, so a suspicion is refuted
   * within a round trip instead of waiting for a probe's buddy message; at most one per probe interval.
   */
  #noticeLateness(late: number): void {
    if (late <= this.#config.probeTimeout) return;
    const now = this.#clock.now();
    if (now - this.#lastStallSync < this.#config.probeInterval) return;
    this.#lastStallSync = now;
    this.stats.stallSyncs++;
    void this.#pushPullRandom();
  }

  async #probe(): Promise<void> {
    const node = this.members.nextToProbe();
    if (node) await this.#probeNode(node);
  }

  /** memberlist probeNode: direct ping, then indirect pings and a TCP ping, then suspicion. */
  async #probeNode(node: Member): Promise<void> {
    this.stats.probes++;
    const to = addressFromWire(node.addr, node.port);
    if (!to) return;
    const probeInterval = this.awareness.scaleTimeout(this.#config.probeInterval);
    const local = this.members.local;
    const ping: Ping = { seqNo: this.#nextSeq(), node: node.name, sourceAddr: local.addr, sourcePort: local.port, sourceNode: local.name };
    const sent = this.#clock.now();
    const deadline = sent + probeInterval;
    let acked = false;
    let nacks = 0;
    let wake: (() => void) | undefined;
    this.#waiters.set(ping.seqNo, {
      ack: () => {
        acked = true;
        wake?.();
      },
      nack: () => {
        nacks++;
      },
    });
    try {
      if (node.state === NodeState.alive) this.#send(to, encodePing(ping));
      else {
        // The buddy system: a suspect hears the accusation with the probe and can refute at once.
        const suspect = encodeSuspect({ incarnation: node.incarnation, node: node.name, from: local.name });
        void this.net.sendPacket(to, encodeCompound([encodePing(ping), suspect]));
      }
      if (
        await this.#waitForAck(
          () => acked,
          (w) => (wake = w),
          this.#config.probeTimeout,
        )
      ) {
        this.awareness.applyDelta(-1);
        this.members.confirm(node.name);
        return;
      }
      // Indirect probes through up to k live peers; nacks (protocol 4) tell us they are working.
      const helpers = this.members.randomMembers(
        this.#config.indirectChecks,
        (m) => m === local || m.name === node.name || m.state !== NodeState.alive,
      );
      let expectedNacks = 0;
      for (const peer of helpers) {
        const via = addressFromWire(peer.addr, peer.port);
        if (!via) continue;
        const nack = (peer.vsn[1] ?? 0) >= 4;
        if (nack) expectedNacks++;
        const ind: IndirectPing = {
          seqNo: ping.seqNo,
          target: node.addr,
          port: node.port,
          node: node.name,
          nack,
          sourceAddr: local.addr,
          sourcePort: local.port,
          sourceNode: local.name,
        };
        this.stats.indirectProbes++;
        this.#send(via, encodeIndirectPing(ind));
      }
      let tcp: Promise<boolean> = Promise.resolve(false);
      if (!this.#config.disableTcpPings && (node.vsn[1] ?? 0) >= 3) {
        this.stats.tcpFallbacks++;
        tcp = this.net.pingStream(to, ping, Math.max(1, deadline - this.#clock.now())).catch(() => false);
      }
      if (
        await this.#waitForAck(
          () => acked,
          (w) => (wake = w),
          deadline - this.#clock.now(),
        )
      ) {
        this.awareness.applyDelta(-1);
        this.members.confirm(node.name);
        return;
      }
      if (await tcp) {
        // Reachable over TCP but not UDP: a misconfigured network, not a dead member.
        this.awareness.applyDelta(-1);
        this.members.confirm(node.name);
        return;
      }
      this.stats.probesFailed++;
      // Lifeguard: missing nacks from working peers point at us, so we slow down instead of accusing.
      this.awareness.applyDelta(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      const current = this.members.get(node.name);
      if (current && current.state !== NodeState.dead && current.state !== NodeState.left) {
        if (this.members.suspect({ incarnation: current.incarnation, node: node.name, from: local.name })) this.stats.suspicionsStarted++;
      }
    } finally {
      this.#waiters.delete(ping.seqNo);
    }
  }

  /** Resolves true as soon as `done()` holds, false after `ms`. */
  #waitForAck(done: () => boolean, setWake: (w: () => void) => void, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    if (ms <= 0 || this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve(done()), ms);
      setWake(() => {
        timer.cancel();
        resolve(true);
      });
    });
  }

  /** Someone asks us to probe `ind.target` for them: relay the ack, or a nack after ProbeTimeout. */
  #relayProbe(ind: IndirectPing, from: Address): void {
    const target = addressFromWire(ind.target, ind.port);
    if (!target) return;
    const requester = (ind.sourceAddr && ind.sourcePort && addressFromWire(ind.sourceAddr, ind.sourcePort)) || from;
    const local = this.members.local;
    const seqNo = this.#nextSeq();
    let timer: Timer | undefined;
    this.#waiters.set(seqNo, {
      ack: () => {
        timer?.cancel();
        this.#waiters.delete(seqNo);
        this.#send(requester, encodeAck({ seqNo: ind.seqNo, payload: EMPTY }));
      },
      nack: () => {},
    });
    timer = this.#clock.setTimeout(() => {
      this.#waiters.delete(seqNo);
      if (ind.nack) this.#send(requester, encodeNack({ seqNo: ind.seqNo }));
    }, this.#config.probeTimeout);
    this.#send(target, encodePing({ seqNo, node: ind.node, sourceAddr: local.addr, sourcePort: local.port, sourceNode: local.name }));
  }

  /**
   * memberlist gossip: queued broadcasts to a few random members, the recently dead included.
   * False when there was nothing to send or nobody to send it to: a member that joins is news
   * queued about it, which wakes the loop again.
   */
  #gossip(): boolean {
    const now = this.#clock.now();
    const local = this.members.local;
    const targets = this.members.randomMembers(this.#config.gossipNodes, (m) => {
      if (m === local) return true;
      if (m.state === NodeState.alive || m.state === NodeState.suspect) return false;
      // The dead still hear gossip for a while, so a falsely accused member learns it and refutes.
      if (m.state === NodeState.dead) return now - m.stateChange > this.#config.gossipToTheDeadTime;
      return true;
    });
    const budget = this.packetBudget - COMPOUND_HEADER_OVERHEAD;
    for (const m of targets) {
      const messages = this.#broadcasts(COMPOUND_PART_OVERHEAD, budget);
      if (messages.length === 0) return false;
      const to = addressFromWire(m.addr, m.port);
      if (!to) continue;
      this.stats.gossipPackets++;
      void this.net.sendPacket(to, messages.length === 1 ? (messages[0] as Uint8Array) : encodeCompound(messages));
    }
    return targets.length > 0;
  }

  async #pushPullRandom(): Promise<void> {
    const local = this.members.local;
    const [peer] = this.members.randomMembers(1, (m) => m === local || m.state !== NodeState.alive);
    const to = peer && addressFromWire(peer.addr, peer.port);
    if (!to) return;
    this.stats.pushPulls++;
    await this.net.pushPull(to, false).catch(() => {});
  }

  /**
   * serf's reconnect: one random failed member a round is asked for a push/pull join, so two sides
   * of a healed partition that already reaped each other merge again (serf#333). Members failed for
   * longer than the reconnect timeout are given up.
   */
  async #reconnect(): Promise<void> {
    const now = this.#clock.now();
    for (const [name, f] of this.#failed) if (now - f.since > this.#config.reconnectTimeout) this.#failed.delete(name);
    const failed = [...this.#failed.values()];
    if (failed.length === 0) return;
    const pick = failed[Math.floor(this.#random() * failed.length)] as { member: Member };
    const to = addressFromWire(pick.member.addr, pick.member.port);
    if (!to) return;
    this.stats.reconnects++;
    await this.net.pushPull(to, true).catch(() => {});
  }

  // --- sending ---

  /** Sends one message with as many queued broadcasts piggybacked as fit (memberlist sendMsg). */
  #send(to: Address, message: Uint8Array): void {
    const room = this.packetBudget - message.length - COMPOUND_HEADER_OVERHEAD;
    const extra = room > 0 ? this.#broadcasts(COMPOUND_PART_OVERHEAD, room) : [];
    void this.net.sendPacket(to, extra.length === 0 ? message : encodeCompound([message, ...extra]));
  }

  /** Membership broadcasts first, then the delegate's user messages in the room left. */
  #broadcasts(overhead: number, limit: number): Uint8Array[] {
    const ours = this.queue.take(overhead, limit);
    if (!this.#delegate.getBroadcasts) return ours;
    const used = ours.reduce((n, m) => n + overhead + m.length, 0);
    const room = limit - used;
    if (room <= overhead) return ours;
    return [...ours, ...this.#delegate.getBroadcasts(overhead, room)];
  }

  #merge(remote: PushPull): void {
    this.members.merge(remote.nodes);
    if (remote.userState.length > 0) this.#delegate.mergeRemoteState?.(remote.userState, remote.join);
  }

  #memberAt(address: Address): Member | undefined {
    return this.members.atAddress(ipToBytes(address.host), address.port);
  }

  #pingTo(node: string): Ping {
    const local = this.members.local;
    return { seqNo: this.#nextSeq(), node, sourceAddr: local.addr, sourcePort: local.port, sourceNode: local.name };
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }
}
