/**
 * One registry change as it travels between members: Go Micro's `gossip.Update` protobuf (field
 * numbers of go-micro/plugins registry/gossip/proto/gossip.proto), with a single node per update and
 * our own keys in its metadata map (Go ignores them): the origin member, its sequence number, the
 * relative ttl and the claim that settles which origin owns a node id.
 * @module
 */
import type { Service } from '../../../registry.js';

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
}

/** Our metadata keys in the Update's map; Go Micro only reads `Content-Type`. */
export const META_ORIGIN = 'X-Rollcall-Origin';
export const META_SEQ = 'X-Rollcall-Seq';
export const META_TTL = 'X-Rollcall-Ttl';
export const META_CLAIM = 'X-Rollcall-Claim';

const ACTIONS: readonly UpdateAction[] = ['create', 'delete', 'update', 'sync'];

/** Thrown for an update that cannot be read; the registry counts it as a drop. */
export class MessageError extends Error {}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

class Writer {
  readonly parts: number[] = [];
  varint(v: bigint | number): void {
    let n = BigInt(v);
    if (n < 0n) n &= (1n << 64n) - 1n;
    while (n >= 0x80n) {
      this.parts.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.parts.push(Number(n));
  }
  bytes(field: number, b: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
  }
}

/** Encodes the Update protobuf. */
export function encodeMessage(m: RegistryMessage): Uint8Array {
  const w = new Writer();
  w.varint((1 << 3) | 0);
  w.varint(m.expires);
  w.varint((2 << 3) | 0);
  w.varint(1);
  w.varint((3 << 3) | 0);
  w.varint(ACTIONS.indexOf(m.action) + 1);
  const meta: [string, string][] = [['Content-Type', 'application/json']];
  if (m.origin !== undefined) meta.push([META_ORIGIN, m.origin]);
  if (m.seq !== undefined) meta.push([META_SEQ, String(m.seq)]);
  if (m.ttl !== undefined) meta.push([META_TTL, String(m.ttl)]);
  if (m.claim !== undefined) meta.push([META_CLAIM, String(m.claim)]);
  for (const [k, v] of meta) {
    const e = new Writer();
    e.bytes(1, utf8.encode(k));
    e.bytes(2, utf8.encode(v));
    w.bytes(6, Uint8Array.from(e.parts));
  }
  const head = Uint8Array.from(w.parts);
  const tail = new Writer();
  tail.varint((7 << 3) | 2);
  tail.varint(m.data.length);
  const out = new Uint8Array(head.length + tail.parts.length + m.data.length);
  out.set(head);
  out.set(tail.parts, head.length);
  out.set(m.data, head.length + tail.parts.length);
  return out;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let out = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new MessageError('truncated varint');
      const b = this.buf[this.pos++] as number;
      out |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return out & ((1n << 64n) - 1n);
    }
    throw new MessageError('varint longer than 10 bytes');
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len > this.buf.length - this.pos) throw new MessageError('length beyond the message');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.advance(8);
    else if (wire === 5) this.advance(4);
    else throw new MessageError(`wire type ${wire}`);
  }
  advance(n: number): void {
    if (n > this.buf.length - this.pos) throw new MessageError('truncated field');
    this.pos += n;
  }
}

const toNumber = (s: string | undefined, max: number): number | undefined => {
  if (s === undefined || !/^\d{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
};

/** Decodes the Update protobuf; throws {@link MessageError} for anything malformed. */
export function decodeMessage(buf: Uint8Array): RegistryMessage {
  const r = new Reader(buf);
  let expires = 0n;
  let type = 0n;
  let action = 0n;
  let data: Uint8Array | undefined;
  const meta = new Map<string, string>();
  while (!r.done) {
    const tag = Number(r.varint() & 0xffffffffn);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) expires = r.varint();
    else if (field === 2 && wire === 0) type = r.varint();
    else if (field === 3 && wire === 0) action = r.varint();
    else if (field === 6 && wire === 2) {
      const e = new Reader(r.bytes());
      let k = '';
      let v = '';
      while (!e.done) {
        const t = Number(e.varint() & 0xffffffffn);
        if (t === ((1 << 3) | 2)) k = text(e.bytes());
        else if (t === ((2 << 3) | 2)) v = text(e.bytes());
        else e.skip(t & 7);
      }
      meta.set(k, v);
    } else if (field === 7 && wire === 2) data = r.bytes();
    else r.skip(wire);
  }
  if (type !== 1n) throw new MessageError(`update type ${type} is not a service`);
  const a = ACTIONS[Number(action) - 1];
  if (!a || action > 4n) throw new MessageError(`unknown action ${action}`);
  if (!data) throw new MessageError('update without data');
  return {
    action: a,
    expires,
    data,
    origin: meta.get(META_ORIGIN) || undefined,
    seq: toNumber(meta.get(META_SEQ), Number.MAX_SAFE_INTEGER),
    ttl: toNumber(meta.get(META_TTL), 2 ** 31 - 1),
    claim: toNumber(meta.get(META_CLAIM), Number.MAX_SAFE_INTEGER),
  };
}

function text(b: Uint8Array): string {
  try {
    return fromUtf8.decode(b);
  } catch {
    throw new MessageError('metadata is not UTF-8');
  }
}

/** The Service as Go Micro's JSON tags write it. */
export function serviceJson(service: Service): Uint8Array {
  return utf8.encode(
    JSON.stringify({
      name: service.name,
      version: service.version,
      metadata: service.metadata,
      endpoints: service.endpoints,
      nodes: service.nodes.map((n) => ({ id: n.id, address: n.address, metadata: n.metadata })),
    }),
  );
}

/** Parses Service JSON (validation is the caller's). */
export function parseServiceJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8.decode(data));
  } catch (error) {
    throw new MessageError(`data is not JSON: ${(error as Error).message}`);
  }
}
