/**
 * memberlist's size limits (net.go, label.go, memberlist.go), enforced by every decoder here
 * before it allocates anything: a small message must never make us reserve memory for what it
 * merely claims (memberlist PR #357, commit 371698b).
 * @module
 */

/** Largest node meta data a node may carry (memberlist `MetaMaxSize`). */
export const META_MAX_BYTES = 512;
/** Largest push/pull state (nodes plus user state) and largest encrypted stream message. */
export const MAX_PUSH_STATE_BYTES = 20 * 1024 * 1024;
/** Most nodes a push/pull header may announce; each takes well over one byte on the wire anyway. */
export const MAX_PUSH_STATE_NODES = 1024 * 1024;
/** Largest user message read off a stream (memberlist `maxUserMsgBytes`). */
export const MAX_USER_MSG_BYTES = 20 * 1024 * 1024;
/** Largest payload a compress message may inflate to: user state plus an equal node budget. */
export const MAX_DECOMPRESSED_BYTES = 2 * MAX_PUSH_STATE_BYTES;
/** Most messages in one compound message: the count is a single byte. */
export const MAX_COMPOUND_PARTS = 255;
/** Largest UDP datagram accepted on receive. */
export const MAX_PACKET_BYTES = 65_536;
/** Longest label: its length is a single byte, and an empty one is never sent. */
export const LABEL_MAX_BYTES = 255;
/** Deepest nesting of msgpack containers skipped inside a message (unknown fields). */
export const MAX_MSGPACK_DEPTH = 32;
/** Most concurrent push/pull streams a node serves (memberlist `maxPushPullRequests`). */
export const MAX_PUSH_PULL_REQUESTS = 128;
