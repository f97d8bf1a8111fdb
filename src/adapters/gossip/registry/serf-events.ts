/**
 * Serf's own user messages (hashicorp/serf serf/messages.go), as the `serf` profile speaks them:
 * serf reads the first byte of every memberlist user message as its message type and the rest as
 * a go-msgpack struct (a map keyed by the Go field names, sorted). Lamport times are uint64, kept
 * as bigint. Also serf's tag encoding for the node Meta.
 * @module
 */
import { WireError } from '../wire/errors.js';
import { MsgpackReader, MsgpackWriter, type StructFields, structFields } from '../wire/msgpack.js';

/** Serf's message types. Append only: the numbers are on the wire. */
export const SerfMessageType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

/**
 * Serf's default UserEventSizeLimit: an encoded user event (type byte included) above it is refused
 * by serf's own sender, so a serf cluster is sized for events no larger.
 */
export const SERF_USER_EVENT_SIZE_LIMIT = 512;

/** The first byte of a Meta that holds serf tags (protocol 3 and later); anything else is a bare role. */
const TAGS_MAGIC = 0xff;

/** A member's intent to be counted as joined (`join`) or leaving (`leave`) as of a Lamport time. */
export interface SerfIntent {
  ltime: bigint;
  node: string;
  /** Leave only: ask members to forget the node at once instead of listing it as left. */
  prune?: boolean;
}

export interface SerfUserEvent {
  ltime: bigint;
  name: string;
  payload: Uint8Array;
  /** "Can coalesce": serf's agent may merge events of one name. */
  cc: boolean;
}

/** The user events serf holds for one Lamport time. */
export interface SerfEventsAt {
  ltime: bigint;
  events: { name: string; payload: Uint8Array }[];
}

/** Serf's push/pull user state. */
export interface SerfPushPull {
  ltime: bigint;
  statusLTimes: Map<string, bigint>;
  leftMembers: string[];
  eventLTime: bigint;
  events: SerfEventsAt[];
  queryLTime: bigint;
}

export type SerfMessage =
  | { type: 'join'; intent: SerfIntent }
  | { type: 'leave'; intent: SerfIntent }
  | { type: 'userEvent'; event: SerfUserEvent }
  | { type: 'pushPull'; state: SerfPushPull }
  /** A serf message the registry has no use for (queries, key management, relays). */
  | { type: 'other'; code: number };

// Field names in go-msgpack's order: sorted by name.
const JOIN = structFields(['LTime', 'Node']);
const LEAVE = structFields(['LTime', 'Node', 'Prune']);
const USER_EVENT = structFields(['CC', 'LTime', 'Name', 'Payload']);
const PUSH_PULL = structFields(['EventLTime', 'Events', 'LTime', 'LeftMembers', 'QueryLTime', 'StatusLTimes']);
const EVENTS_AT = structFields(['Events', 'LTime']);
const EVENT = structFields(['Name', 'Payload']);

/** `[1]{LTime, Node}`. */
export function encodeSerfJoin(intent: SerfIntent): Uint8Array {
  const w = new MsgpackWriter(64).byte(SerfMessageType.join).mapHeader(2);
  w.str('LTime').uint64(intent.ltime).str('Node').str(intent.node);
  return w.toBytes();
}

/** `[0]{LTime, Node, Prune}`. */
export function encodeSerfLeave(intent: SerfIntent): Uint8Array {
  const w = new MsgpackWriter(64).byte(SerfMessageType.leave).mapHeader(3);
  w.str('LTime')
    .uint64(intent.ltime)
    .str('Node')
    .str(intent.node)
    .str('Prune')
    .bool(intent.prune ?? false);
  return w.toBytes();
}

/** `[3]{CC, LTime, Name, Payload}`; an empty payload is nil, as Go writes a nil slice. */
export function encodeSerfUserEvent(event: SerfUserEvent): Uint8Array {
  const w = new MsgpackWriter(event.payload.length + 64).byte(SerfMessageType.userEvent).mapHeader(4);
  w.str('CC').bool(event.cc).str('LTime').uint64(event.ltime).str('Name').str(event.name).str('Payload').rawOrNil(event.payload);
  return w.toBytes();
}

/** `[2]{EventLTime, Events, LTime, LeftMembers, QueryLTime, StatusLTimes}`, status times sorted by name. */
export function encodeSerfPushPull(state: SerfPushPull): Uint8Array {
  const w = new MsgpackWriter(256).byte(SerfMessageType.pushPull).mapHeader(6);
  w.str('EventLTime').uint64(state.eventLTime).str('Events').arrayHeader(state.events.length);
  for (const at of state.events) {
    w.mapHeader(2).str('Events').arrayHeader(at.events.length);
    for (const e of at.events) w.mapHeader(2).str('Name').str(e.name).str('Payload').rawOrNil(e.payload);
    w.str('LTime').uint64(at.ltime);
  }
  w.str('LTime').uint64(state.ltime).str('LeftMembers').arrayHeader(state.leftMembers.length);
  for (const name of state.leftMembers) w.str(name);
  w.str('QueryLTime').uint64(state.queryLTime);
  const names = [...state.statusLTimes.keys()].sort();
  w.str('StatusLTimes').mapHeader(names.length);
  for (const name of names) w.str(name).uint64(state.statusLTimes.get(name) as bigint);
  return w.toBytes();
}

/** Decodes one serf user message; throws {@link WireError} for bytes that are not one. */
export function decodeSerfMessage(buf: Uint8Array): SerfMessage {
  if (buf.length === 0) throw new WireError('truncated', 'serf: empty message');
  const code = buf[0] as number;
  const r = new MsgpackReader(buf, 1);
  switch (code) {
    case SerfMessageType.join:
      return { type: 'join', intent: readIntent(r, JOIN) };
    case SerfMessageType.leave:
      return { type: 'leave', intent: readIntent(r, LEAVE) };
    case SerfMessageType.userEvent:
      return { type: 'userEvent', event: readUserEvent(r) };
    case SerfMessageType.pushPull:
      return { type: 'pushPull', state: readPushPull(r) };
    default:
      return { type: 'other', code };
  }
}

/** Reads a struct's fields in any order; unknown fields are skipped, missing ones keep their zero. */
function readStruct(r: MsgpackReader, fields: StructFields, field: (index: number) => boolean): void {
  const n = r.mapHeader();
  let expect = 0;
  for (let i = 0; i < n; i++) {
    const f = r.field(fields, expect);
    expect = f + 1;
    if (!field(f)) r.skip();
  }
}

function readIntent(r: MsgpackReader, fields: StructFields): SerfIntent {
  const intent: SerfIntent = { ltime: 0n, node: '' };
  readStruct(r, fields, (f) => {
    if (f === 0) intent.ltime = r.uint64();
    else if (f === 1) intent.node = r.string();
    else if (f === 2) intent.prune = r.bool();
    else return false;
    return true;
  });
  return intent;
}

function readUserEvent(r: MsgpackReader): SerfUserEvent {
  const event: SerfUserEvent = { ltime: 0n, name: '', payload: new Uint8Array(0), cc: false };
  readStruct(r, USER_EVENT, (f) => {
    if (f === 0) event.cc = r.bool();
    else if (f === 1) event.ltime = r.uint64();
    else if (f === 2) event.name = r.string();
    else if (f === 3) event.payload = r.bytes();
    else return false;
    return true;
  });
  return event;
}

function readPushPull(r: MsgpackReader): SerfPushPull {
  const state: SerfPushPull = { ltime: 0n, statusLTimes: new Map(), leftMembers: [], eventLTime: 0n, events: [], queryLTime: 0n };
  readStruct(r, PUSH_PULL, (f) => {
    if (f === 0) state.eventLTime = r.uint64();
    else if (f === 1) {
      // Serf sends its whole event ring, with nil for the slots not used yet.
      const n = r.arrayHeader();
      for (let i = 0; i < n; i++) if (!r.nil()) state.events.push(readEventsAt(r));
    } else if (f === 2) state.ltime = r.uint64();
    else if (f === 3) {
      const n = r.arrayHeader();
      for (let i = 0; i < n; i++) state.leftMembers.push(r.string());
    } else if (f === 4) state.queryLTime = r.uint64();
    else if (f === 5) {
      const n = r.mapHeader();
      for (let i = 0; i < n; i++) state.statusLTimes.set(r.string(), r.uint64());
    } else return false;
    return true;
  });
  return state;
}

function readEventsAt(r: MsgpackReader): SerfEventsAt {
  const at: SerfEventsAt = { ltime: 0n, events: [] };
  readStruct(r, EVENTS_AT, (f) => {
    if (f === 0) {
      const n = r.arrayHeader();
      for (let i = 0; i < n; i++) {
        const e: { name: string; payload: Uint8Array } = { name: '', payload: new Uint8Array(0) };
        readStruct(r, EVENT, (g) => {
          if (g === 0) e.name = r.string();
          else if (g === 1) e.payload = r.bytes();
          else return false;
          return true;
        });
        at.events.push(e);
      }
    } else if (f === 1) at.ltime = r.uint64();
    else return false;
    return true;
  });
  return at;
}

/** Serf's Meta for tags: 0xff, then a msgpack map of strings (keys sorted, so the Meta is stable). */
export function encodeSerfTags(tags: Readonly<Record<string, string>>): Uint8Array {
  const keys = Object.keys(tags).sort();
  const w = new MsgpackWriter(64).byte(TAGS_MAGIC).mapHeader(keys.length);
  for (const k of keys) w.str(k).str(tags[k] as string);
  return w.toBytes();
}

/** A member's tags from its Meta: serf's map, or a bare role string from serf protocol 2; {} when unreadable. */
export function decodeSerfTags(meta: Uint8Array): Record<string, string> {
  if (meta.length === 0) return {};
  if (meta[0] !== TAGS_MAGIC) return { role: new TextDecoder().decode(meta) };
  try {
    const r = new MsgpackReader(meta, 1);
    const n = r.mapHeader();
    const entries: [string, string][] = [];
    for (let i = 0; i < n; i++) entries.push([r.string(), r.string()]);
    // fromEntries defines own properties: a `__proto__` tag stays a tag.
    return Object.fromEntries(entries);
  } catch {
    return {};
  }
}
