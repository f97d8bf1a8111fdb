/**
 * The push/pull user state of the `memberlist` profile, in Go Micro's own format
 * (`map[name][]Service`, one Service per node) so a Go Micro member that joins us, or that we join,
 * merges it. Each Service also carries an `x-rollcall` object with what a rollcall member needs
 * (origin, sequence, claim, ms left): encoding/json ignores keys no struct field has, and our JSON
 * never holds a `null` Service (Go Micro would dereference it).
 * @module
 */
import type { Service } from '../../../registry.js';
import type { SizeLimits } from '../../../service.js';
import { decodeGoStateWith, encodeGoState } from './service-json.js';

/** The key of our stamp inside each Service of the state. */
export const STATE_STAMP_KEY = 'x-rollcall';

/** One node as a member holds it. `origin` is '' for a node learned from Go Micro. */
export interface StateEntry {
  origin: string;
  seq: number;
  claim: number;
  /** Ms the entry has left at the sender. */
  remaining: number;
  /** The service with its one node. */
  service: Service;
}

/** A service read from a state, with our stamp when a rollcall member sent it. */
export interface ReceivedStateEntry {
  service: Service;
  stamp: { origin: string; seq: number; claim: number; remaining: number } | undefined;
}

/** Encodes entries as Go Micro's state, each Service stamped. */
export function encodeState(entries: Iterable<StateEntry>): Uint8Array {
  const stamped: Service[] = [];
  for (const e of entries) {
    const stamp = { o: e.origin, s: e.seq, c: e.claim, t: Math.max(0, Math.ceil(e.remaining)) };
    stamped.push({ ...e.service, [STATE_STAMP_KEY]: stamp } as Service);
  }
  return encodeGoState(stamped);
}

/**
 * Reads a state: Go Micro's (no stamps) or ours. The whole must be a JSON object within the limits
 * (else RollcallError); a Service that is invalid, listed under another name, or badly stamped is
 * dropped and counted.
 */
export function decodeState(bytes: Uint8Array, options: { limits?: SizeLimits } = {}): { entries: ReceivedStateEntry[]; dropped: number } {
  const { entries, dropped } = decodeGoStateWith(bytes, options, readStateStamp);
  return { entries: entries.map(({ service, extra }) => ({ service, stamp: extra })), dropped };
}

/** The stamp of one raw Service: undefined when absent (Go Micro), null when malformed. */
function readStateStamp(raw: unknown): ReceivedStateEntry['stamp'] | null {
  if (typeof raw !== 'object' || raw === null || !Object.hasOwn(raw, STATE_STAMP_KEY)) return undefined;
  const s = (raw as Record<string, unknown>)[STATE_STAMP_KEY] as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null) return null;
  const { o, s: seq, c, t } = s;
  if (typeof o !== 'string' || o.length > 512) return null;
  for (const n of [seq, c, t]) if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return null;
  return { origin: o, seq: seq as number, claim: c as number, remaining: t as number };
}
