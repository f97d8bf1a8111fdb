/**
 * What the gossip net layer counts. Bad input is dropped, never thrown: these counters are how an
 * operator (and a test) sees that it happened, and why.
 * @module
 */

import type { WireDropReason } from './wire/errors.js';

/** Why a packet or stream was dropped: the wire decoders' reasons plus the net layer's own. */
export type NetDropReason =
  | WireDropReason
  /** A stream (or its request) took longer than the stream timeout. */
  | 'timeout'
  /** A stream ended or broke inside a message. */
  | 'closed'
  /** A stream was cut to make room: too many streams had not finished their request. */
  | 'evicted'
  /** A push/pull over the concurrency limit (memberlist: 128). */
  | 'busy'
  /** Well-formed but not for us: a ping for another node name, a stream message type a stream never carries. */
  | 'unexpected'
  /** A handler threw (a membership layer bug or a merge it refused): the input is dropped, the node goes on. */
  | 'handler';

export interface NetStats {
  /** The last error a handler threw, for diagnosis (handlers run on input from the network). */
  lastHandlerError?: unknown;
  packetsReceived: number;
  packetsSent: number;
  streamsAccepted: number;
  streamsDialed: number;
  /** Push/pulls completed, as caller or callee. */
  pushPulls: number;
  /** Drops by reason; every key is present. */
  readonly dropped: Record<NetDropReason, number>;
}

const reasons: readonly NetDropReason[] = [
  'truncated',
  'limit',
  'malformed',
  'unsupported',
  'checksum',
  'decrypt',
  'label',
  'timeout',
  'closed',
  'evicted',
  'busy',
  'unexpected',
  'handler',
];

export function createNetStats(): NetStats {
  const dropped = {} as Record<NetDropReason, number>;
  for (const reason of reasons) dropped[reason] = 0;
  return { packetsReceived: 0, packetsSent: 0, streamsAccepted: 0, streamsDialed: 0, pushPulls: 0, dropped };
}

/** All drops, whatever the reason. */
export function totalDropped(stats: NetStats): number {
  let sum = 0;
  for (const reason of reasons) sum += stats.dropped[reason];
  return sum;
}

/** A drop the net layer decides on itself (not a decoding failure), carried to the one place that counts. */
export class NetDrop extends Error {
  constructor(
    readonly reason: NetDropReason,
    message: string,
  ) {
    super(message);
  }
}
