/**
 * The member table and its rules (memberlist state.go: aliveNode, suspectNode, deadNode,
 * mergeState, refute): what every alive, suspect and dead message does to what we know, which of
 * them we gossip on, and when we refute a rumour about ourselves. The probe and gossip loops read
 * the table; nothing here sends a packet except through the broadcast queue.
 * @module
 */
import type { Clock } from '../../../internal/clock.js';
import {
  type Alive,
  type Dead,
  encodeAlive,
  encodeDead,
  encodeSuspect,
  NodeState,
  type PushNodeState,
  type Suspect,
} from '../wire/messages.js';
import type { Awareness } from './awareness.js';
import type { TransmitLimitedQueue } from './broadcast.js';
import type { SwimConfig } from './config.js';
import { Suspicion } from './suspicion.js';
import { suspicionTimeout } from './timing.js';

/** What we know about one member. */
export interface Member {
  readonly name: string;
  /** 4 or 16 bytes, as advertised. */
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  /** `[PMin, PMax, PCur, DMin, DMax, DCur]`. */
  readonly vsn: Uint8Array;
  readonly incarnation: number;
  readonly state: NodeState;
  /** When the state last changed, on the clock's scale. */
  readonly stateChange: number;
}

export type MemberEventType = 'join' | 'update' | 'leave';
export interface MemberEvent {
  type: MemberEventType;
  member: Member;
}

export interface MembersOptions {
  clock: Clock;
  config: SwimConfig;
  /** Our own record (its incarnation is where we start). */
  local: Omit<Member, 'state' | 'stateChange'>;
  queue: TransmitLimitedQueue;
  awareness: Awareness;
  /** Membership changes, ours excluded. */
  onEvent?: (event: MemberEvent) => void;
  /** A rumour about us was refuted (for logs and stats). */
  onRefute?: (accusedIncarnation: number, newIncarnation: number) => void;
  /** A member was declared dead by our own suspicion timer, with the confirmations seen. */
  onSuspicionTimeout?: (name: string, confirmations: number) => void;
  /** Uniform in [0, 1): where new members go in the probe order. @default Math.random */
  random?: () => number;
}

type Entry = { -readonly [K in keyof Member]: Member[K] };

/**
 * How many members first heard of through UDP gossip, and not yet confirmed by an answered probe,
 * the table holds at most: this many, or as many as probes have confirmed when that is more.
 * Anyone can send `alive` datagrams for invented names (memberlist adds every one); an invented
 * name never answers a probe, so it stays unconfirmed and a flood of them stops at the cap instead
 * of growing memory, probe rounds and broadcasts without bound. A real cluster can grow by gossip
 * at most by its confirmed size (or 128) between probe rounds; anything refused still arrives by
 * the next push/pull, a TCP stream with its own limits.
 *
 * A push/pull listing admits names past the cap, but does not confirm them: a peer lists what it
 * heard, invented names included, and counting its listing as confirmation let a sustained flood
 * raise the cap round after round (3 members, 50 invented names a second: 324 to 502 members
 * after 10-15 minutes, against 131 now). Listed names wait for their own probe answer; they neither count toward the cap nor
 * take a place under it.
 */
export const UNCONFIRMED_FLOOR = 128;

const addressKey = (addr: Uint8Array, port: number) => `${addr.join('.')}/${port}`;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The first incarnation of a process: seconds since 2024 times four, so a node restarted under
 * the same name starts above what its previous life reached (memberlist#311: restarted at 1, it
 * stayed invisible behind its own old `dead`) unless it refuted more than four times a second.
 */
export function initialIncarnation(wallClockMs: number = Date.now()): number {
  const since2024 = Math.max(0, wallClockMs - Date.UTC(2024, 0, 1)) / 1000;
  return Math.max(1, Math.min(0xffff_ff00, Math.floor(since2024 * 4)));
}

export class Members {
  readonly #clock: Clock;
  readonly #config: SwimConfig;
  readonly #queue: TransmitLimitedQueue;
  readonly #awareness: Awareness;
  readonly #options: MembersOptions;
  readonly #random: () => number;
  readonly #byName = new Map<string, Entry>();
  /** `ip bytes, port` -> member: the net layer asks per packet which protocol version a peer speaks. */
  readonly #byAddress = new Map<string, Entry>();
  /** The probe order: shuffled at every wrap, new members at a random place. */
  #order: Entry[] = [];
  #probeIndex = 0;
  readonly #suspicions = new Map<string, Suspicion>();
  /** Names first heard of in UDP gossip that no probe answer has confirmed yet: capped. */
  readonly #unconfirmed = new Set<string>();
  /** Names first heard of in a push/pull listing that no probe answer has confirmed yet: not capped, not confirmed. */
  readonly #listed = new Set<string>();
  /** New names refused because the unconfirmed cap was reached. */
  refusedUnconfirmed = 0;
  readonly #local: Entry;
  #leaving = false;

  constructor(options: MembersOptions) {
    this.#options = options;
    this.#clock = options.clock;
    this.#config = options.config;
    this.#queue = options.queue;
    this.#awareness = options.awareness;
    this.#random = options.random ?? Math.random;
    this.#local = { ...options.local, state: NodeState.alive, stateChange: this.#clock.now() };
    this.#byName.set(this.#local.name, this.#local);
    this.#byAddress.set(addressKey(this.#local.addr, this.#local.port), this.#local);
    this.#order.push(this.#local);
  }

  /** How many members heard of by gossip wait for confirmation (see {@link UNCONFIRMED_FLOOR}). */
  get unconfirmed(): number {
    return this.#unconfirmed.size;
  }

  /** How many members heard of in push/pull listings wait for confirmation. */
  get listed(): number {
    return this.#listed.size;
  }

  /** `name` answered a probe: it is no longer counted against the cap, and counts toward it. */
  confirm(name: string): void {
    this.#unconfirmed.delete(name);
    this.#listed.delete(name);
  }

  /** The member last seen at this address. */
  atAddress(addr: Uint8Array, port: number): Member | undefined {
    return this.#byAddress.get(addressKey(addr, port));
  }

  get local(): Member {
    return this.#local;
  }

  get(name: string): Member | undefined {
    return this.#byName.get(name);
  }

  /** Every record we hold, ours included, dead ones until they are reaped. */
  all(): Member[] {
    return [...this.#order];
  }

  /** memberlist's estNumNodes: every record in the table, dead ones until reaped. */
  get size(): number {
    return this.#order.length;
  }

  /** Members other than us that are alive or suspect. */
  get liveCount(): number {
    let n = 0;
    for (const m of this.#order) if (m !== this.#local && (m.state === NodeState.alive || m.state === NodeState.suspect)) n++;
    return n;
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  /** Our table as push/pull node states. */
  pushNodes(): PushNodeState[] {
    return this.#order.map((m) => ({
      name: m.name,
      addr: m.addr,
      port: m.port,
      meta: m.meta,
      incarnation: m.incarnation,
      state: m.state,
      vsn: m.vsn,
    }));
  }

  /**
   * The next member to probe (memberlist probe): round-robin over the table, skipping us and the
   * dead; at the end of a round dead members past GossipToTheDeadTime are reaped and the order
   * reshuffled. Undefined when there is nobody to probe.
   */
  nextToProbe(): Member | undefined {
    for (let checked = 0; checked <= this.#order.length; ) {
      if (this.#probeIndex >= this.#order.length) {
        this.reap();
        this.#shuffle();
        this.#probeIndex = 0;
        checked++;
        continue;
      }
      const m = this.#order[this.#probeIndex++] as Entry;
      if (m === this.#local || m.state === NodeState.dead || m.state === NodeState.left) {
        checked++;
        continue;
      }
      return m;
    }
    return undefined;
  }

  /** Up to `k` random members for which `exclude` is false. */
  randomMembers(k: number, exclude: (m: Member) => boolean): Member[] {
    const out: Member[] = [];
    const n = this.#order.length;
    // memberlist kRandomNodes: 3n random picks at most, each member taken once.
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.#order[Math.floor(this.#random() * n)] as Entry;
      if (exclude(m) || out.includes(m)) continue;
      out.push(m);
    }
    return out;
  }

  /** Forgets dead and left members whose GossipToTheDeadTime is over (left ones too: memberlist#253). */
  reap(): Member[] {
    const now = this.#clock.now();
    const gone: Member[] = [];
    this.#order = this.#order.filter((m) => {
      const down = m.state === NodeState.dead || m.state === NodeState.left;
      if (m === this.#local || !down || now - m.stateChange <= this.#config.gossipToTheDeadTime) return true;
      gone.push(m);
      this.#byName.delete(m.name);
      this.#unconfirmed.delete(m.name);
      this.#listed.delete(m.name);
      const key = addressKey(m.addr, m.port);
      if (this.#byAddress.get(key) === m) this.#byAddress.delete(key);
      return false;
    });
    return gone;
  }

  // --- the rules ---

  /**
   * An alive message (gossip, push/pull, join). Returns whether it changed anything. `bootstrap`
   * marks our own record at start-up, which is never refuted; `fromStream` marks a push/pull
   * listing, which confirms the name (see {@link UNCONFIRMED_FLOOR}).
   */
  alive(a: Alive, bootstrap = false, fromStream = false): boolean {
    if (this.#leaving && a.node === this.#local.name) return false;
    // state.go drops an unusable protocol range rather than let a bad peer into the table.
    if (a.vsn.length >= 3) {
      const pMin = a.vsn[0] as number;
      const pMax = a.vsn[1] as number;
      if (pMin === 0 || pMax === 0 || pMin > pMax) return false;
    }
    if (a.addr.length !== 4 && a.addr.length !== 16) return false;
    let entry = this.#byName.get(a.node);
    let readdressed = false;
    if (fromStream) {
      // Admitted past the cap, as the recovery path for names gossip refused, but unconfirmed. A
      // name gossip admitted keeps its place under the cap until its own probe answer: freeing
      // it here would let gossip admit another one per listing, round after round.
      if (!entry) this.#listed.add(a.node);
    } else if (!entry) {
      const confirmed = this.#byName.size - this.#unconfirmed.size - this.#listed.size;
      if (this.#unconfirmed.size >= Math.max(UNCONFIRMED_FLOOR, confirmed)) {
        this.refusedUnconfirmed++;
        return false;
      }
      this.#unconfirmed.add(a.node);
    }
    if (!entry) {
      // New members start as dead so that their first alive counts as a join.
      entry = {
        name: a.node,
        addr: a.addr,
        port: a.port,
        meta: a.meta,
        vsn: a.vsn,
        incarnation: 0,
        state: NodeState.dead,
        stateChange: this.#clock.now(),
      };
      this.#byName.set(a.node, entry);
      // A random place in the probe order keeps the detection bound low on average.
      const at = Math.floor(this.#random() * (this.#order.length + 1));
      this.#order.splice(at, 0, entry);
      readdressed = true;
    } else if (!sameBytes(entry.addr, a.addr) || entry.port !== a.port) {
      // A name may move to a new address once its old member is gone (memberlist#157); a live one keeps its address.
      if (entry.state !== NodeState.dead && entry.state !== NodeState.left) return false;
      readdressed = true;
    }
    const isLocal = entry === this.#local;
    if (!isLocal && !readdressed && a.incarnation <= entry.incarnation) return false;
    if (isLocal && a.incarnation < entry.incarnation) return false;
    this.#cancelSuspicion(a.node);
    const oldState = entry.state;
    const oldMeta = entry.meta;
    if (isLocal && !bootstrap) {
      // A restart with other settings can meet its old self at an equal incarnation: refute only a difference.
      if (
        a.incarnation === entry.incarnation &&
        sameBytes(a.meta, entry.meta) &&
        sameBytes(a.addr, entry.addr) &&
        a.port === entry.port &&
        sameBytes(a.vsn, entry.vsn)
      ) {
        return false;
      }
      this.refute(a.incarnation);
      return true;
    }
    this.#broadcast(a.node, encodeAlive(a));
    const oldKey = addressKey(entry.addr, entry.port);
    if (this.#byAddress.get(oldKey) === entry) this.#byAddress.delete(oldKey);
    entry.incarnation = a.incarnation;
    entry.meta = a.meta;
    entry.addr = a.addr;
    entry.port = a.port;
    this.#byAddress.set(addressKey(a.addr, a.port), entry);
    if (a.vsn.length > 0) entry.vsn = a.vsn;
    if (entry.state !== NodeState.alive) {
      entry.state = NodeState.alive;
      entry.stateChange = this.#clock.now();
    }
    if (isLocal) return true;
    if (oldState === NodeState.dead || oldState === NodeState.left) this.#emit('join', entry);
    else if (!sameBytes(oldMeta, entry.meta)) this.#emit('update', entry);
    return true;
  }

  /** A suspect message: confirms a running suspicion, or starts one; about us, refuted. */
  suspect(s: Suspect): boolean {
    const entry = this.#byName.get(s.node);
    if (!entry || s.incarnation < entry.incarnation) return false;
    const running = this.#suspicions.get(s.node);
    if (running) {
      // New confirmations are gossiped on, so independent accusations reach everyone.
      if (running.confirm(s.from)) this.#broadcast(s.node, encodeSuspect(s));
      return false;
    }
    if (entry.state !== NodeState.alive) return false;
    if (entry === this.#local) {
      this.refute(s.incarnation);
      return true;
    }
    this.#broadcast(s.node, encodeSuspect(s));
    entry.incarnation = s.incarnation;
    entry.state = NodeState.suspect;
    const changedAt = this.#clock.now();
    entry.stateChange = changedAt;
    // Confirmations wanted: two probe intervals short of the multiplier, none in a cluster too small to give them.
    const n = this.size;
    const k = n - 2 < this.#config.suspicionMult - 2 ? 0 : this.#config.suspicionMult - 2;
    const min = suspicionTimeout(this.#config.suspicionMult, n, this.#config.probeInterval);
    const max = this.#config.suspicionMaxTimeoutMult * min;
    this.#suspicions.set(
      s.node,
      new Suspicion(this.#clock, s.from, k, min, max, (confirmations) => {
        this.#suspicions.delete(s.node);
        const now = this.#byName.get(s.node);
        // Only the suspicion that is still current may kill: a refutation or a new rumour replaced it.
        if (now !== entry || entry.state !== NodeState.suspect || entry.stateChange !== changedAt) return;
        this.#options.onSuspicionTimeout?.(entry.name, confirmations);
        this.dead({ incarnation: entry.incarnation, node: entry.name, from: this.#local.name });
      }),
    );
    return true;
  }

  /** A dead message; `from === node` is a graceful leave. About us (while not leaving), refuted. */
  dead(d: Dead): boolean {
    const entry = this.#byName.get(d.node);
    if (!entry || d.incarnation < entry.incarnation) return false;
    this.#cancelSuspicion(d.node);
    if (entry.state === NodeState.dead || entry.state === NodeState.left) return false;
    if (entry === this.#local) {
      if (!this.#leaving) {
        this.refute(d.incarnation);
        return true;
      }
      this.#broadcast(d.node, encodeDead(d), true);
    } else this.#broadcast(d.node, encodeDead(d));
    entry.incarnation = d.incarnation;
    entry.state = d.node === d.from ? NodeState.left : NodeState.dead;
    entry.stateChange = this.#clock.now();
    if (entry !== this.#local) this.#emit('leave', entry);
    return true;
  }

  /**
   * A peer's push/pull table (state.go mergeState): alive applies, left is a leave, and a remote
   * dead only makes us suspect, so one confused peer cannot kill a member on its own.
   */
  merge(remote: readonly PushNodeState[]): void {
    for (const r of remote) {
      switch (r.state) {
        case NodeState.alive:
          this.alive({ incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn }, false, true);
          break;
        case NodeState.left:
          this.dead({ incarnation: r.incarnation, node: r.name, from: r.name });
          break;
        case NodeState.dead:
        case NodeState.suspect:
          this.suspect({ incarnation: r.incarnation, node: r.name, from: this.#local.name });
          break;
        default:
          // Unknown states from a newer protocol are ignored, as memberlist's switch does.
          break;
      }
    }
  }

  /** Says we are alive at an incarnation above `accused`; costs us health (we were the one doubted). */
  refute(accused: number): void {
    const before = this.#local.incarnation;
    this.#local.incarnation = Math.max(before, accused) + 1;
    this.#awareness.applyDelta(1);
    this.#broadcast(this.#local.name, encodeAlive(this.#aliveOfLocal()));
    this.#options.onRefute?.(accused, this.#local.incarnation);
  }

  /** New meta for us: a higher incarnation, gossiped as alive (memberlist UpdateNode). */
  updateLocal(meta: Uint8Array): void {
    this.#local.meta = meta;
    this.#local.incarnation++;
    this.#broadcast(this.#local.name, encodeAlive(this.#aliveOfLocal()));
  }

  /** Starts a graceful leave: `dead` about ourselves from ourselves, ahead of anything queued. */
  leave(): void {
    if (this.#leaving) return;
    this.#leaving = true;
    this.dead({ incarnation: this.#local.incarnation, node: this.#local.name, from: this.#local.name });
  }

  /** The alive message that announces us. */
  aliveOfLocal(): Alive {
    return this.#aliveOfLocal();
  }

  /** Stops every suspicion timer (shutdown). */
  stop(): void {
    for (const s of this.#suspicions.values()) s.cancel();
    this.#suspicions.clear();
  }

  #aliveOfLocal(): Alive {
    const l = this.#local;
    return { incarnation: l.incarnation, node: l.name, addr: l.addr, port: l.port, meta: l.meta, vsn: l.vsn };
  }

  #broadcast(node: string, message: Uint8Array, urgent = false): void {
    this.#queue.queue({ message, name: `node:${node}`, urgent });
  }

  #cancelSuspicion(name: string): void {
    const s = this.#suspicions.get(name);
    if (!s) return;
    s.cancel();
    this.#suspicions.delete(name);
  }

  #emit(type: MemberEventType, entry: Entry): void {
    this.#options.onEvent?.({ type, member: { ...entry } });
  }

  #shuffle(): void {
    const a = this.#order;
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [a[i], a[j]] = [a[j] as Entry, a[i] as Entry];
    }
  }
}
