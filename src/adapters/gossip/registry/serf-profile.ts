/**
 * The `serf` profile: what a member must say to be a well-behaved serf member. Registry updates
 * travel as serf user events under one fixed name (serf agents relay them and deduplicate them by
 * Lamport time, name and payload); join and leave intents carry our status Lamport time, so a
 * leave makes `serf members` show `left`, not `failed`; push/pull user state is serf's own.
 * The three Lamport clocks follow serf's rules: each witnesses every time it sees, so the events we
 * send stay inside the window serf keeps (it drops events older than its ring of recent times).
 * @module
 */
import {
  decodeSerfMessage,
  encodeSerfJoin,
  encodeSerfLeave,
  encodeSerfPushPull,
  encodeSerfTags,
  encodeSerfUserEvent,
  SERF_USER_EVENT_SIZE_LIMIT,
  type SerfEventsAt,
} from './serf-events.js';

/** The user event name registry updates travel under (an agent's handler filters on `user:rollcall`). */
export const SERF_EVENT_NAME = 'rollcall';
/**
 * The tag that marks a rollcall member, so updates too large for a serf event go over TCP to those
 * only: a serf agent would hand them to its event handlers, which serf never sizes for more.
 */
export const ROLLCALL_TAG = 'rollcall';
/** Serf 2..5 with 4 current, as a serf 0.8/0.9 agent advertises to older peers; memberlist 1..5, 2 current. */
export const SERF_VSN: readonly number[] = [1, 5, 2, 2, 5, 4];
/** Intents of members we no longer hear of: kept at most this many (serf keeps its own per member too). */
const MAX_INTENTS = 4096;

/** A Lamport clock as serf runs it: `time` is the next value to stamp; witnessing `t` moves it past `t`. */
class LamportClock {
  #next = 0n;
  time(): bigint {
    return this.#next;
  }
  /** Stamps the current time and moves past it. */
  stamp(): bigint {
    return this.#next++;
  }
  witness(t: bigint): void {
    if (t >= this.#next) this.#next = t + 1n;
  }
}

/** What a serf user message meant to the registry. */
export type SerfReceived =
  /** A registry update inside a user event of our name: `relay` is the event to pass on unchanged. */
  | { kind: 'update'; update: Uint8Array; relay: Uint8Array }
  /** A join or leave intent newer than the one we held: passed on, as serf does. */
  | { kind: 'intent'; node: string; relay: Uint8Array }
  /** A leave intent for our own name, newer than our join (an earlier life's): answer with a newer join. */
  | { kind: 'refute' }
  /** Anything else: clocks witnessed, or of no use to the registry (queries, key management, other events). */
  | { kind: 'none' };

export class SerfProfile {
  readonly #name: string;
  readonly #status = new LamportClock();
  readonly #events = new LamportClock();
  readonly #queries = new LamportClock();
  /** Status Lamport time and whether it was a leave, per member, as serf's StatusLTimes. */
  readonly #intents = new Map<string, { ltime: bigint; leaving: boolean }>();
  /** Each of our nodes' latest event, so push/pulls carry them to members that missed the broadcast. */
  readonly #ownEvents = new Map<string, { ltime: bigint; payload: Uint8Array }>();

  constructor(name: string) {
    this.#name = name;
  }

  /** Serf's tag Meta with our marker tag. */
  static meta(tags: Readonly<Record<string, string>>): Uint8Array {
    return encodeSerfTags({ ...tags, [ROLLCALL_TAG]: '1' });
  }

  /** A registry update as a user event at a fresh event time; `key` names the node it is the latest for. */
  wrap(update: Uint8Array, key: string, deleted: boolean): Uint8Array {
    const ltime = this.#events.stamp();
    const event = encodeSerfUserEvent({ ltime, name: SERF_EVENT_NAME, payload: update, cc: false });
    // Push/pulls reach serf agents too: they carry only what serf would take as an event.
    if (deleted || !SerfProfile.fitsEvent(event)) this.#ownEvents.delete(key);
    else this.#ownEvents.set(key, { ltime, payload: update });
    return event;
  }

  /** Whether a wrapped event is small enough for serf to take as a user event broadcast. */
  static fitsEvent(wrapped: Uint8Array): boolean {
    return wrapped.length <= SERF_USER_EVENT_SIZE_LIMIT;
  }

  /** Our join intent: a fresh status time, so an older leave intent for our name no longer counts. */
  joinIntent(): Uint8Array {
    const ltime = this.#status.stamp();
    this.#intents.set(this.#name, { ltime, leaving: false });
    return encodeSerfJoin({ ltime, node: this.#name });
  }

  /** Our leave intent, above every status time we sent or saw, so serf counts it over our join. */
  leaveIntent(): Uint8Array {
    const ltime = this.#status.stamp();
    this.#intents.set(this.#name, { ltime, leaving: true });
    return encodeSerfLeave({ ltime, node: this.#name, prune: false });
  }

  /** A user message from a member. Throws WireError for one that is not serf's (the registry counts it). */
  receive(message: Uint8Array): SerfReceived {
    const m = decodeSerfMessage(message);
    if (m.type === 'userEvent') {
      this.#events.witness(m.event.ltime);
      if (m.event.name !== SERF_EVENT_NAME) return { kind: 'none' };
      return { kind: 'update', update: m.event.payload, relay: message };
    }
    if (m.type === 'join' || m.type === 'leave') {
      const { node, ltime } = m.intent;
      if (node === this.#name && m.type === 'leave' && ltime > (this.#intents.get(node)?.ltime ?? -1n)) {
        this.#status.witness(ltime);
        return { kind: 'refute' };
      }
      return this.#intent(node, ltime, m.type === 'leave') ? { kind: 'intent', node, relay: message } : { kind: 'none' };
    }
    return { kind: 'none' };
  }

  /** Records an intent as serf does: only a later status time replaces the one we hold. */
  #intent(node: string, ltime: bigint, leaving: boolean): boolean {
    this.#status.witness(ltime);
    const known = this.#intents.get(node);
    if (known && ltime <= known.ltime) return false;
    if (node === this.#name && leaving && !known?.leaving) return false;
    this.#intents.set(node, { ltime, leaving });
    if (this.#intents.size > MAX_INTENTS) {
      // The oldest entry goes, never our own: our status time must survive a flood of names.
      for (const oldest of this.#intents.keys()) {
        if (oldest === this.#name) continue;
        this.#intents.delete(oldest);
        break;
      }
    }
    return true;
  }

  /** A serf member that sent a leave intent: shown as `left`, not failed, once SWIM sees it gone. */
  isLeaving(node: string): boolean {
    return this.#intents.get(node)?.leaving === true;
  }

  /**
   * Serf's push/pull state: our clocks, status times, members that left, and the latest event of
   * each of our nodes still registered (`isOwn`: a stopped registration's last event must not be
   * replayed to members that never heard of its end).
   */
  localState(isGone: (node: string) => boolean, isOwn: (key: string) => boolean): Uint8Array {
    const statusLTimes = new Map<string, bigint>();
    const leftMembers: string[] = [];
    for (const [node, { ltime, leaving }] of this.#intents) {
      statusLTimes.set(node, ltime);
      if (leaving && node !== this.#name && isGone(node)) leftMembers.push(node);
    }
    const byTime = new Map<bigint, SerfEventsAt>();
    for (const [key, { ltime, payload }] of this.#ownEvents) {
      if (!isOwn(key)) {
        this.#ownEvents.delete(key);
        continue;
      }
      const at = byTime.get(ltime) ?? { ltime, events: [] };
      at.events.push({ name: SERF_EVENT_NAME, payload });
      byTime.set(ltime, at);
    }
    return encodeSerfPushPull({
      ltime: this.#status.time(),
      statusLTimes,
      leftMembers,
      eventLTime: this.#events.time(),
      events: [...byTime.values()],
      queryLTime: this.#queries.time(),
    });
  }

  /**
   * A peer's push/pull state: clocks witnessed (less one, as serf: nothing was sent at that time
   * yet), intents recorded, and the registry updates among its recent events, each with the event
   * to relay. Members it lists as left come back in `left`. Throws WireError for a state not serf's.
   */
  mergeState(state: Uint8Array): { updates: { update: Uint8Array; relay: Uint8Array }[]; left: string[] } {
    const m = decodeSerfMessage(state);
    if (m.type !== 'pushPull') return { updates: [], left: [] };
    const pp = m.state;
    if (pp.ltime > 0n) this.#status.witness(pp.ltime - 1n);
    if (pp.eventLTime > 0n) this.#events.witness(pp.eventLTime - 1n);
    if (pp.queryLTime > 0n) this.#queries.witness(pp.queryLTime - 1n);
    const left: string[] = [];
    const listedLeft = new Set(pp.leftMembers);
    for (const node of listedLeft) {
      // As serf: a listed left member's leave counts as one time above its status time.
      if (this.#intent(node, (pp.statusLTimes.get(node) ?? 0n) + 1n, true) && node !== this.#name) left.push(node);
    }
    for (const [node, ltime] of pp.statusLTimes) if (!listedLeft.has(node)) this.#intent(node, ltime, false);
    const updates: { update: Uint8Array; relay: Uint8Array }[] = [];
    for (const at of pp.events) {
      for (const e of at.events) {
        if (e.name !== SERF_EVENT_NAME) continue;
        const relay = encodeSerfUserEvent({ ltime: at.ltime, name: e.name, payload: e.payload, cc: false });
        updates.push({ update: e.payload, relay });
      }
    }
    return { updates, left };
  }
}
