/**
 * DNS packets built byte by byte, for what no encoder we have writes: compression pointers,
 * broken lengths, reserved label types. Used by the reader's tests and benchmark.
 */

/** A message header with these section counts (default flags: an authoritative response). */
export function header(counts: { qd?: number; an?: number; ns?: number; ar?: number }, flags = 0x8400): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(counts.qd ?? 0, 4);
  h.writeUInt16BE(counts.an ?? 0, 6);
  h.writeUInt16BE(counts.ns ?? 0, 8);
  h.writeUInt16BE(counts.ar ?? 0, 10);
  return h;
}

/** Length-prefixed labels, without the final zero byte (end a name with {@link ROOT} or a pointer). */
export function labelBytes(...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)])));
}

export const ROOT = Buffer.from([0]);

/** A whole uncompressed name. */
export function labels(...parts: string[]): Buffer {
  return Buffer.concat([labelBytes(...parts), ROOT]);
}

/** A compression pointer to `offset`. */
export function pointer(offset: number): Buffer {
  return Buffer.from([0xc0 | (offset >> 8), offset & 0xff]);
}

/** Type, class, TTL and rdata of a record whose name has just been written. */
export function tail(type: number, rdata: Buffer, klass = 1, ttl = 120): Buffer {
  const t = Buffer.alloc(10);
  t.writeUInt16BE(type, 0);
  t.writeUInt16BE(klass, 2);
  t.writeUInt32BE(ttl, 4);
  t.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([t, rdata]);
}
