/**
 * IP addresses as memberlist carries them: raw bytes (4 for IPv4, 16 for IPv6, where Go may also
 * write an IPv4 address in its 16-byte mapped form).
 * @module
 */

import { isIPv4, isIPv6 } from 'node:net';
import type { Address } from '../../internal/transport.js';

/** Text form of a 4- or 16-byte address (a mapped IPv4 address reads as IPv4); undefined for other lengths. */
export function ipFromBytes(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return undefined;
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.subarray(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The bytes memberlist sends for `host`: 4 for IPv4, 16 for IPv6. */
export function ipToBytes(host: string): Uint8Array {
  if (isIPv4(host)) return Uint8Array.from(host.split('.').map(Number));
  if (!isIPv6(host)) throw new TypeError(`not an IP address: ${host}`);
  const [head = '', tail = ''] = host.includes('::') ? host.split('::') : [host, ''];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = parse(tail);
  const groups = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The address a ping's source fields or a node record name, or undefined when the bytes are not an IP. */
export function addressFromWire(addr: Uint8Array, port: number): Address | undefined {
  const host = ipFromBytes(addr);
  return host === undefined ? undefined : { host, port };
}
