/**
 * Every memberlist message body (net.go): `[type byte][msgpack map keyed by Go field names]`,
 * keys written in Go's sorted order, `omitempty` fields left out when zero. Decoders take the
 * bytes after the type byte, ignore unknown keys, read missing ones as zero, and copy the byte
 * fields they return so a node's state never pins a packet buffer.
 * @module
 */
import { WireError } from './errors.js';
import { MAX_PUSH_STATE_BYTES, MAX_PUSH_STATE_NODES, MAX_USER_MSG_BYTES, META_MAX_BYTES } from './limits.js';
import { encodedKey, MsgpackReader, MsgpackWriter, type StructFields, structFields } from './msgpack.js';

/** Message type bytes. Append only: the numbers are the protocol (net.go). */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
  /** Far above the others so it cannot be mistaken for an encryption version byte (0 or 1). */
  label: 244,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Node states in push/pull (memberlist `NodeStateType`). Append only. */
export const NodeState = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

/** A direct probe. `node` lets the target notice it was restarted under another name. */
export interface Ping {
  seqNo: number;
  node: string;
  /** Where to send the ack when the sender is behind a NAT or proxy (omitted when empty). */
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

/** Ask a peer to probe `target` for us. */
export interface IndirectPing {
  seqNo: number;
  target: Uint8Array;
  port: number;
  node: string;
  /** Ask for a nack if the target stays silent (protocol 4 and up). */
  nack: boolean;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface Ack {
  seqNo: number;
  /** The ping delegate's payload; empty is sent as nil, as Go sends a nil slice. */
  payload: Uint8Array;
}

export interface Nack {
  seqNo: number;
}

/** Suspect and dead share one shape; a dead with `from === node` is a graceful leave. */
export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}
export type Dead = Suspect;

export interface Alive {
  incarnation: number;
  node: string;
  /** 4 or 16 bytes. */
  addr: Uint8Array;
  port: number;
  /** At most {@link META_MAX_BYTES}; empty is sent as nil. */
  meta: Uint8Array;
  /** `[PMin, PMax, PCur, DMin, DMax, DCur]`, always sent whole. */
  vsn: Uint8Array;
}

export interface PushPullHeader {
  nodes: number;
  userStateLen: number;
  /** A join rather than a periodic anti-entropy exchange. */
  join: boolean;
}

export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: number;
  vsn: Uint8Array;
}

/** A whole push/pull message: header, node states and the delegate's user state. */
export interface PushPull {
  join: boolean;
  nodes: PushNodeState[];
  userState: Uint8Array;
}

export interface Compress {
  /** 0 is LZW, the only algorithm memberlist knows. */
  algo: number;
  buf: Uint8Array;
}

export interface ErrResp {
  error: string;
}

const K = {
  Addr: encodedKey('Addr'),
  Algo: encodedKey('Algo'),
  Buf: encodedKey('Buf'),
  Error: encodedKey('Error'),
  From: encodedKey('From'),
  Incarnation: encodedKey('Incarnation'),
  Join: encodedKey('Join'),
  Meta: encodedKey('Meta'),
  Nack: encodedKey('Nack'),
  Name: encodedKey('Name'),
  Node: encodedKey('Node'),
  Nodes: encodedKey('Nodes'),
  Payload: encodedKey('Payload'),
  Port: encodedKey('Port'),
  SeqNo: encodedKey('SeqNo'),
  SourceAddr: encodedKey('SourceAddr'),
  SourceNode: encodedKey('SourceNode'),
  SourcePort: encodedKey('SourcePort'),
  State: encodedKey('State'),
  Target: encodedKey('Target'),
  UserMsgLen: encodedKey('UserMsgLen'),
  UserStateLen: encodedKey('UserStateLen'),
  Vsn: encodedKey('Vsn'),
};

const EMPTY = new Uint8Array(0);
/** Go's `int` on the 64-bit builds every peer runs; values past 2^53 are refused as a limit anyway. */
const INT_MAX = Number.MAX_SAFE_INTEGER;

// One writer reused by every encoder: messages are small and encoding never re-enters.
let shared = new MsgpackWriter(1024);

function begin(type: number): MsgpackWriter {
  // A large push/pull grows the writer; let that memory go rather than hold it for pings.
  if (shared.capacity > 1 << 20) shared = new MsgpackWriter(1024);
  shared.reset();
  return shared.byte(type);
}

// Each struct's Go field names in the sorted order go-msgpack writes them.
const PING = structFields(['Node', 'SeqNo', 'SourceAddr', 'SourceNode', 'SourcePort']);
const INDIRECT_PING = structFields(['Nack', 'Node', 'Port', 'SeqNo', 'SourceAddr', 'SourceNode', 'SourcePort', 'Target']);
const ACK = structFields(['Payload', 'SeqNo']);
const NACK = structFields(['SeqNo']);
const SUSPECT = structFields(['From', 'Incarnation', 'Node']);
const ALIVE = structFields(['Addr', 'Incarnation', 'Meta', 'Node', 'Port', 'Vsn']);
const PUSH_PULL_HEADER = structFields(['Join', 'Nodes', 'UserStateLen']);
const PUSH_NODE = structFields(['Addr', 'Incarnation', 'Meta', 'Name', 'Port', 'State', 'Vsn']);
const USER_MSG_HEADER = structFields(['UserMsgLen']);
const COMPRESS = structFields(['Algo', 'Buf']);
const ERR = structFields(['Error']);

/**
 * Calls `field` with each key's index in `fields` (-1 for keys the struct lacks, whose value it
 * must leave for the caller to skip: it returns false then).
 */
function readStruct(r: MsgpackReader, fields: StructFields, field: (index: number) => boolean): void {
  const n = r.mapHeader();
  let expect = 0;
  for (let i = 0; i < n; i++) {
    const f = r.field(fields, expect);
    expect = f + 1;
    if (!field(f)) r.skip();
  }
}

function checkMeta(meta: Uint8Array): Uint8Array {
  if (meta.length > META_MAX_BYTES) throw new WireError('limit', `node meta of ${meta.length} bytes exceeds ${META_MAX_BYTES}`);
  return meta;
}

function writeSource(w: MsgpackWriter, m: Ping | IndirectPing): void {
  if (m.sourceAddr !== undefined && m.sourceAddr.length > 0) w.bytes(K.SourceAddr).raw(m.sourceAddr);
  if (m.sourceNode) w.bytes(K.SourceNode).str(m.sourceNode);
  if (m.sourcePort) w.bytes(K.SourcePort).uint(m.sourcePort);
}

function sourceFields(m: Ping | IndirectPing): number {
  return (m.sourceAddr !== undefined && m.sourceAddr.length > 0 ? 1 : 0) + (m.sourceNode ? 1 : 0) + (m.sourcePort ? 1 : 0);
}

/** The three optional source fields; `at` is the index of SourceAddr (SourceNode and SourcePort follow). */
function readSource(r: MsgpackReader, f: number, at: number, m: Ping | IndirectPing): boolean {
  switch (f - at) {
    case 0:
      m.sourceAddr = r.bytes();
      return true;
    case 1:
      m.sourceNode = r.string();
      return true;
    case 2:
      m.sourcePort = r.uint16();
      return true;
  }
  return false;
}

export function encodePing(m: Ping): Uint8Array {
  const w = begin(MessageType.ping).mapHeader(2 + sourceFields(m));
  w.bytes(K.Node).str(m.node).bytes(K.SeqNo).uint(m.seqNo);
  writeSource(w, m);
  return w.toBytes();
}

export function decodePing(body: Uint8Array): Ping {
  const r = new MsgpackReader(body);
  const m: Ping = { seqNo: 0, node: '' };
  readStruct(r, PING, (f) => {
    if (f === 1) m.seqNo = r.uint32();
    else if (f === 0) m.node = r.string();
    else return readSource(r, f, 2, m);
    return true;
  });
  return m;
}

export function encodeIndirectPing(m: IndirectPing): Uint8Array {
  const w = begin(MessageType.indirectPing).mapHeader(5 + sourceFields(m));
  w.bytes(K.Nack).bool(m.nack).bytes(K.Node).str(m.node).bytes(K.Port).uint(m.port).bytes(K.SeqNo).uint(m.seqNo);
  writeSource(w, m);
  w.bytes(K.Target).rawOrNil(m.target);
  return w.toBytes();
}

export function decodeIndirectPing(body: Uint8Array): IndirectPing {
  const r = new MsgpackReader(body);
  const m: IndirectPing = { seqNo: 0, target: EMPTY, port: 0, node: '', nack: false };
  readStruct(r, INDIRECT_PING, (f) => {
    switch (f) {
      case 3:
        m.seqNo = r.uint32();
        return true;
      case 7:
        m.target = r.bytes();
        return true;
      case 2:
        m.port = r.uint16();
        return true;
      case 1:
        m.node = r.string();
        return true;
      case 0:
        m.nack = r.bool();
        return true;
    }
    return readSource(r, f, 4, m);
  });
  return m;
}

export function encodeAck(m: Ack): Uint8Array {
  return begin(MessageType.ack).mapHeader(2).bytes(K.Payload).rawOrNil(m.payload).bytes(K.SeqNo).uint(m.seqNo).toBytes();
}

export function decodeAck(body: Uint8Array): Ack {
  const r = new MsgpackReader(body);
  const m: Ack = { seqNo: 0, payload: EMPTY };
  readStruct(r, ACK, (f) => {
    if (f === 1) m.seqNo = r.uint32();
    else if (f === 0) m.payload = r.bytes();
    else return false;
    return true;
  });
  return m;
}

export function encodeNack(m: Nack): Uint8Array {
  return begin(MessageType.nack).mapHeader(1).bytes(K.SeqNo).uint(m.seqNo).toBytes();
}

export function decodeNack(body: Uint8Array): Nack {
  const r = new MsgpackReader(body);
  const m: Nack = { seqNo: 0 };
  readStruct(r, NACK, (f) => {
    if (f !== 0) return false;
    m.seqNo = r.uint32();
    return true;
  });
  return m;
}

function encodeSuspectLike(type: number, m: Suspect): Uint8Array {
  return begin(type).mapHeader(3).bytes(K.From).str(m.from).bytes(K.Incarnation).uint(m.incarnation).bytes(K.Node).str(m.node).toBytes();
}

function decodeSuspectLike(body: Uint8Array): Suspect {
  const r = new MsgpackReader(body);
  const m: Suspect = { incarnation: 0, node: '', from: '' };
  readStruct(r, SUSPECT, (f) => {
    if (f === 1) m.incarnation = r.uint32();
    else if (f === 2) m.node = r.string();
    else if (f === 0) m.from = r.string();
    else return false;
    return true;
  });
  return m;
}

export function encodeSuspect(m: Suspect): Uint8Array {
  return encodeSuspectLike(MessageType.suspect, m);
}

export function decodeSuspect(body: Uint8Array): Suspect {
  return decodeSuspectLike(body);
}

export function encodeDead(m: Dead): Uint8Array {
  return encodeSuspectLike(MessageType.dead, m);
}

export function decodeDead(body: Uint8Array): Dead {
  return decodeSuspectLike(body);
}

/** Writes an alive body (no type byte) into `w`; shared with the compound and push/pull writers. */
export function writeAlive(w: MsgpackWriter, m: Alive): MsgpackWriter {
  if (m.meta.length > META_MAX_BYTES) throw new RangeError(`node meta of ${m.meta.length} bytes exceeds ${META_MAX_BYTES}`);
  return w
    .mapHeader(6)
    .bytes(K.Addr)
    .rawOrNil(m.addr)
    .bytes(K.Incarnation)
    .uint(m.incarnation)
    .bytes(K.Meta)
    .rawOrNil(m.meta)
    .bytes(K.Node)
    .str(m.node)
    .bytes(K.Port)
    .uint(m.port)
    .bytes(K.Vsn)
    .rawOrNil(m.vsn);
}

export function encodeAlive(m: Alive): Uint8Array {
  return writeAlive(begin(MessageType.alive), m).toBytes();
}

/**
 * Decodes an alive. Throws for Meta over 512 bytes and for protocol versions state.go ignores
 * (PMin or PMax 0, or PMin above PMax), so such a message is dropped and counted like bad input.
 */
export function decodeAlive(body: Uint8Array): Alive {
  const r = new MsgpackReader(body);
  const m: Alive = { incarnation: 0, node: '', addr: EMPTY, port: 0, meta: EMPTY, vsn: EMPTY };
  readStruct(r, ALIVE, (f) => {
    switch (f) {
      case 1:
        m.incarnation = r.uint32();
        return true;
      case 3:
        m.node = r.string();
        return true;
      case 0:
        m.addr = r.bytes();
        return true;
      case 4:
        m.port = r.uint16();
        return true;
      case 2:
        m.meta = checkMeta(r.bytes());
        return true;
      case 5:
        m.vsn = r.bytes();
        return true;
    }
    return false;
  });
  const v = m.vsn;
  if (v.length >= 3 && (v[0] === 0 || v[1] === 0 || (v[0] as number) > (v[1] as number))) {
    throw new WireError('malformed', `alive for ${JSON.stringify(m.node)} has protocol versions ${v[0]}..${v[1]}`);
  }
  return m;
}

function writePushNode(w: MsgpackWriter, n: PushNodeState): void {
  if (n.meta.length > META_MAX_BYTES) throw new RangeError(`node meta of ${n.meta.length} bytes exceeds ${META_MAX_BYTES}`);
  w.mapHeader(7)
    .bytes(K.Addr)
    .rawOrNil(n.addr)
    .bytes(K.Incarnation)
    .uint(n.incarnation)
    .bytes(K.Meta)
    .rawOrNil(n.meta)
    .bytes(K.Name)
    .str(n.name)
    .bytes(K.Port)
    .uint(n.port)
    .bytes(K.State)
    .int(n.state)
    .bytes(K.Vsn)
    .rawOrNil(n.vsn);
}

/** `[6][header][node states][user state]`, as sendLocalState writes it before compression. */
export function encodePushPull(m: PushPull): Uint8Array {
  const w = begin(MessageType.pushPull);
  w.mapHeader(3).bytes(K.Join).bool(m.join).bytes(K.Nodes).int(m.nodes.length).bytes(K.UserStateLen).int(m.userState.length);
  for (const n of m.nodes) writePushNode(w, n);
  w.bytes(m.userState);
  return w.toBytes();
}

/**
 * Reads a push/pull header and checks its claims against memberlist's limits and against the
 * bytes that follow (`available`, when known), before anything is allocated for them.
 */
export function readPushPullHeader(r: MsgpackReader, available = r.remaining): PushPullHeader {
  const h: PushPullHeader = { nodes: 0, userStateLen: 0, join: false };
  readStruct(r, PUSH_PULL_HEADER, (f) => {
    if (f === 1) h.nodes = r.intIn(-INT_MAX, INT_MAX);
    else if (f === 2) h.userStateLen = r.intIn(-INT_MAX, INT_MAX);
    else if (f === 0) h.join = r.bool();
    else return false;
    return true;
  });
  if (h.nodes < 0 || h.nodes > MAX_PUSH_STATE_NODES) throw new WireError('limit', `push/pull claims ${h.nodes} nodes`);
  if (h.userStateLen < 0 || h.userStateLen > MAX_PUSH_STATE_BYTES) {
    throw new WireError('limit', `push/pull claims ${h.userStateLen} bytes of user state`);
  }
  // A node state takes at least one byte: a count the message cannot hold is refused up front.
  if (h.nodes + h.userStateLen > available) throw new WireError('truncated', 'push/pull is shorter than its header claims');
  return h;
}

/** Reads one push/pull node state; Meta over 512 bytes is refused. */
export function readPushNode(r: MsgpackReader): PushNodeState {
  const n: PushNodeState = { name: '', addr: EMPTY, port: 0, meta: EMPTY, incarnation: 0, state: 0, vsn: EMPTY };
  readStruct(r, PUSH_NODE, (f) => {
    switch (f) {
      case 3:
        n.name = r.string();
        return true;
      case 0:
        n.addr = r.bytes();
        return true;
      case 4:
        n.port = r.uint16();
        return true;
      case 2:
        n.meta = checkMeta(r.bytes());
        return true;
      case 1:
        n.incarnation = r.uint32();
        return true;
      case 5:
        n.state = r.intIn(-INT_MAX, INT_MAX);
        return true;
      case 6:
        n.vsn = r.bytes();
        return true;
    }
    return false;
  });
  return n;
}

/** Decodes a whole push/pull body (after the type byte); user state beyond the claim is ignored, as Go does. */
export function decodePushPull(body: Uint8Array): PushPull {
  const r = new MsgpackReader(body);
  const h = readPushPullHeader(r);
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < h.nodes; i++) nodes.push(readPushNode(r));
  if (r.remaining < h.userStateLen) throw new WireError('truncated', 'push/pull user state is cut short');
  const userState = h.userStateLen === 0 ? EMPTY : r.buf.slice(r.pos, r.pos + h.userStateLen);
  return { join: h.join, nodes, userState };
}

/** A user message for a packet: `[8][payload]`. */
export function encodeUserPacket(payload: Uint8Array): Uint8Array {
  return begin(MessageType.user).bytes(payload).toBytes();
}

/** A user message for a stream: `[8][{UserMsgLen}][payload]`. */
export function encodeUserStream(payload: Uint8Array): Uint8Array {
  return begin(MessageType.user).mapHeader(1).bytes(K.UserMsgLen).int(payload.length).bytes(payload).toBytes();
}

/** Reads a stream user message header; the length is checked against the limit and the bytes present. */
export function readUserMsgHeader(r: MsgpackReader, available = r.remaining): number {
  let len = 0;
  readStruct(r, USER_MSG_HEADER, (f) => {
    if (f !== 0) return false;
    len = r.intIn(-INT_MAX, INT_MAX);
    return true;
  });
  if (len < 0 || len > MAX_USER_MSG_BYTES) throw new WireError('limit', `user message claims ${len} bytes`);
  if (len > available) throw new WireError('truncated', 'user message is shorter than its header claims');
  return len;
}

/** Decodes a stream user message body (after the type byte) to its payload. */
export function decodeUserStream(body: Uint8Array): Uint8Array {
  const r = new MsgpackReader(body);
  const len = readUserMsgHeader(r);
  return r.buf.slice(r.pos, r.pos + len);
}

export function encodeCompress(m: Compress): Uint8Array {
  return begin(MessageType.compress).mapHeader(2).bytes(K.Algo).uint(m.algo).bytes(K.Buf).rawOrNil(m.buf).toBytes();
}

/** Decodes a compress body; `buf` is a view into `body`, to be inflated at once. */
export function decodeCompress(body: Uint8Array): Compress {
  const r = new MsgpackReader(body);
  const m: Compress = { algo: 0, buf: EMPTY };
  readStruct(r, COMPRESS, (f) => {
    if (f === 0) m.algo = r.uint8();
    else if (f === 1) m.buf = r.bytesView();
    else return false;
    return true;
  });
  return m;
}

export function encodeErr(m: ErrResp): Uint8Array {
  return begin(MessageType.err).mapHeader(1).bytes(K.Error).str(m.error).toBytes();
}

export function decodeErr(body: Uint8Array): ErrResp {
  const r = new MsgpackReader(body);
  const m: ErrResp = { error: '' };
  readStruct(r, ERR, (f) => {
    if (f !== 0) return false;
    m.error = r.string();
    return true;
  });
  return m;
}
