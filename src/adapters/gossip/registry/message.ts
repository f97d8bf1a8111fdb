/**
 * One registry change as the registry sees it, carried by Go Micro's `gossip.Update` (update.ts):
 * a single node per update, update.ts's stamp (origin, sequence, relative ttl) and our claim key
 * in its metadata map (Go ignores both).
 * @module
 */
import { serviceToGoJson } from './service-json.js';
import { decodeUpdate, encodeUpdate, goMicroUpdateMetadata, readStamp, stampMetadata, UpdateType } from './update.js';

/** Go Micro's actions (1 create, 2 delete, 3 update, 4 sync). */
export type UpdateAction = 'create' | 'delete' | 'update' | 'sync';

export interface RegistryMessage {
  action: UpdateAction;
  /** Unix time in nanoseconds after which Go Micro drops the entry. */
  expires: bigint;
  /** The Service JSON, as Go Micro writes it (one node for ours). */
  data: Uint8Array;
  /** Member that registered the node; absent on a Go Micro update. */
  origin?: string | undefined;
  /** Per-origin sequence number: a higher one replaces a lower one. */
  seq?: number | undefined;
  /** Milliseconds the receiver keeps the node without a newer update. */
  ttl?: number | undefined;
  /** Hybrid logical time of the registration: the highest claim owns a node id. */
  claim?: number | undefined;
  /** The origin's sequence of its change before this update: receivers apply an origin's changes in order. */
  prev?: number | undefined;
  /** The origin's SWIM incarnation when it sent this: tells an update of a later life from a dead one's. */
  incarnation?: number | undefined;
}

const ACTIONS: readonly UpdateAction[] = ['create', 'delete', 'update', 'sync'];

/** Thrown for an update that cannot be read; the registry counts it as a drop. */
export class MessageError extends Error {}

const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes the Update protobuf with our stamp (update.ts). */
export function encodeMessage(m: RegistryMessage): Uint8Array {
  const metadata =
    m.origin === undefined
      ? goMicroUpdateMetadata
      : stampMetadata({
          origin: m.origin,
          seq: BigInt(m.seq ?? 0),
          ttlMs: m.ttl ?? 0,
          claim: m.claim,
          prev: m.prev,
          incarnation: m.incarnation,
        });
  return encodeUpdate({
    expires: m.expires,
    type: UpdateType.service,
    action: ACTIONS.indexOf(m.action) + 1,
    metadata,
    data: m.data,
  });
}

/** Decodes the Update protobuf and our stamp; throws for anything malformed. */
export function decodeMessage(buf: Uint8Array): RegistryMessage {
  const u = decodeUpdate(buf);
  if (u.type !== UpdateType.service) throw new MessageError(`update type ${u.type} is not a service`);
  const action = ACTIONS[u.action - 1];
  if (!action) throw new MessageError(`unknown action ${u.action}`);
  if (u.data.length === 0) throw new MessageError('update without data');
  const stamp = readStamp(u.metadata);
  const seq = stamp && stamp.seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(stamp.seq) : undefined;
  if (stamp && seq === undefined) throw new MessageError('sequence beyond 2^53');
  return {
    action,
    expires: u.expires,
    data: u.data,
    origin: stamp?.origin,
    seq,
    ttl: stamp ? Math.min(stamp.ttlMs, 2 ** 31 - 1) : undefined,
    claim: stamp?.claim,
    prev: stamp?.prev,
    incarnation: stamp?.incarnation,
  };
}

/** The Service as Go Micro's JSON tags write it. */
export const serviceJson = serviceToGoJson;

/** Parses Service JSON (validation is the caller's). */
export function parseServiceJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8.decode(data));
  } catch (error) {
    throw new MessageError(`data is not JSON: ${(error as Error).message}`);
  }
}
