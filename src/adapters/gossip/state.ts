/**
 * The member table (memberlist state.go, the part push/pull needs): one record per node name, the
 * newest incarnation winning. Probing, suspicion and refutation build on this table; here it only
 * takes alive records and states from push/pull and gossip, and offers ours back.
 * @module
 */

import { NodeState, type PushNodeState } from './wire/messages.js';

/** What we know about one node. */
export interface NodeRecord {
  readonly name: string;
  /** 4 or 16 bytes, as advertised. */
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly incarnation: number;
  readonly state: NodeState;
  /** `[PMin, PMax, PCur, DMin, DMax, DCur]`. */
  readonly vsn: Uint8Array;
}

/** The change a merge made, for whoever turns membership into events. */
export type MemberChange = { kind: 'join' | 'update' | 'leave'; node: NodeRecord };

export class MemberState {
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #localName: string;
  /** Called for every change a merge or an alive message made. */
  onChange: ((change: MemberChange) => void) | undefined;

  constructor(local: NodeRecord) {
    this.#localName = local.name;
    this.#nodes.set(local.name, local);
  }

  get local(): NodeRecord {
    return this.#nodes.get(this.#localName) as NodeRecord;
  }

  /** Replaces our own record (new meta or incarnation). */
  setLocal(record: Omit<NodeRecord, 'name'>): void {
    this.#nodes.set(this.#localName, { ...record, name: this.#localName });
  }

  get(name: string): NodeRecord | undefined {
    return this.#nodes.get(name);
  }

  /** Every record, ours included, whatever its state. */
  all(): NodeRecord[] {
    return [...this.#nodes.values()];
  }

  /** Nodes other than us that are alive or suspect (still members). */
  members(): NodeRecord[] {
    return this.all().filter((n) => n.state === NodeState.alive || n.state === NodeState.suspect);
  }

  /** Our table as push/pull node states. */
  pushNodes(): PushNodeState[] {
    return this.all().map((n) => ({ ...n }));
  }

  /**
   * Applies an alive record (gossip or push/pull). Newer incarnations replace older ones; a record
   * about us is left alone (refuting is the prober's job); an unusable protocol range is ignored,
   * as state.go's aliveNode does.
   */
  applyAlive(record: Omit<NodeRecord, 'state'>): boolean {
    if (record.name === this.#localName) return false;
    const v = record.vsn;
    if (v.length >= 3 && ((v[0] as number) === 0 || (v[1] as number) === 0 || (v[0] as number) > (v[1] as number))) return false;
    if (record.addr.length !== 4 && record.addr.length !== 16) return false;
    const known = this.#nodes.get(record.name);
    const fresh = !known || known.state === NodeState.dead || known.state === NodeState.left;
    if (known && !fresh && record.incarnation <= known.incarnation) return false;
    if (known && fresh && record.incarnation < known.incarnation) return false;
    const next: NodeRecord = { ...record, state: NodeState.alive };
    this.#nodes.set(record.name, next);
    this.onChange?.({ kind: fresh ? 'join' : 'update', node: next });
    return true;
  }

  /** A node reported dead or left: recorded when the report is at least as new as what we know. */
  applyDown(name: string, incarnation: number, state: NodeState): boolean {
    if (name === this.#localName) return false;
    const known = this.#nodes.get(name);
    if (!known || incarnation < known.incarnation) return false;
    if (known.state === NodeState.left || known.state === state) return false;
    const next: NodeRecord = { ...known, incarnation, state };
    this.#nodes.set(name, next);
    this.onChange?.({ kind: 'leave', node: next });
    return true;
  }

  /** Merges a peer's push/pull table (state.go mergeState): alive records apply, dead ones count as down. */
  merge(remote: readonly PushNodeState[]): void {
    for (const n of remote) {
      if (n.state === NodeState.alive || n.state === NodeState.suspect) this.applyAlive(n);
      else if (n.state === NodeState.dead || n.state === NodeState.left) this.applyDown(n.name, n.incarnation, n.state);
    }
  }
}
