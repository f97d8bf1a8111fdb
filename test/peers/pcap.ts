/** pcap reading, just enough for UDP over Ethernet, Linux cooked capture or raw IP (tcpdump's files). */

export interface CapturedPacket {
  /** Capture time, ms since the epoch (µs resolution). */
  timeMs: number;
  family: 4 | 6;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** IPv4 TTL or IPv6 hop limit (mDNS wants 255). */
  ttl: number;
  /** UDP payload. */
  payload: Buffer;
}

function ipv6String(b: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(off + i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** UDP datagrams in a classic pcap file; other packets are ignored. */
export function parsePcap(data: Buffer): CapturedPacket[] {
  if (data.length < 24) return [];
  const magicLE = data.readUInt32LE(0);
  let le: boolean;
  let nano = false;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = data.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) throw new Error('not a pcap file');
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const linkType = u32(20);
  const out: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= data.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const start = off + 16;
    off = start + incl;
    if (off > data.length) break;
    const pkt = data.subarray(start, start + incl);
    let l3 = 0;
    let etherType = 0;
    if (linkType === 1) {
      if (pkt.length < 14) continue;
      etherType = pkt.readUInt16BE(12);
      l3 = 14;
      if (etherType === 0x8100 && pkt.length >= 18) {
        etherType = pkt.readUInt16BE(16);
        l3 = 18;
      }
    } else if (linkType === 113) {
      if (pkt.length < 16) continue;
      etherType = pkt.readUInt16BE(14);
      l3 = 16;
    } else if (linkType === 276) {
      if (pkt.length < 20) continue;
      etherType = pkt.readUInt16BE(0);
      l3 = 20;
    } else if (linkType === 101 || linkType === 12) {
      etherType = pkt.length > 0 && pkt[0]! >> 4 === 6 ? 0x86dd : 0x0800;
    } else {
      continue;
    }
    const timeMs = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    if (etherType === 0x0800) {
      if (pkt.length < l3 + 20) continue;
      const ihl = (pkt[l3]! & 0x0f) * 4;
      if (pkt[l3 + 9] !== 17) continue;
      const fragment = pkt.readUInt16BE(l3 + 6) & 0x3fff;
      if (fragment !== 0) continue;
      const u = l3 + ihl;
      if (pkt.length < u + 8) continue;
      const udpLen = pkt.readUInt16BE(u + 4);
      out.push({
        timeMs,
        family: 4,
        src: `${pkt[l3 + 12]}.${pkt[l3 + 13]}.${pkt[l3 + 14]}.${pkt[l3 + 15]}`,
        dst: `${pkt[l3 + 16]}.${pkt[l3 + 17]}.${pkt[l3 + 18]}.${pkt[l3 + 19]}`,
        srcPort: pkt.readUInt16BE(u),
        dstPort: pkt.readUInt16BE(u + 2),
        ttl: pkt[l3 + 8]!,
        payload: Buffer.from(pkt.subarray(u + 8, Math.min(pkt.length, u + udpLen))),
      });
    } else if (etherType === 0x86dd) {
      if (pkt.length < l3 + 48 || pkt[l3 + 6] !== 17) continue;
      const u = l3 + 40;
      const udpLen = pkt.readUInt16BE(u + 4);
      out.push({
        timeMs,
        family: 6,
        src: ipv6String(pkt, l3 + 8),
        dst: ipv6String(pkt, l3 + 24),
        srcPort: pkt.readUInt16BE(u),
        dstPort: pkt.readUInt16BE(u + 2),
        ttl: pkt[l3 + 7]!,
        payload: Buffer.from(pkt.subarray(u + 8, Math.min(pkt.length, u + udpLen))),
      });
    }
  }
  return out;
}
