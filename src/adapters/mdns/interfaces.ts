/**
 * Which interfaces mDNS runs on, and noticing when that changes (a cable plugged in, Wi-Fi
 * joining, an address renewed): RFC 6762 §8.3 and §5.2 ask a host to probe and announce again and
 * to restart its query backoff on each interface that comes up.
 * @module
 */
import { RollcallError } from '../../errors.js';
import { type InterfaceAddress, interfaceNames, listInterfaces as listUsable, type NetInterface } from '../../internal/interfaces.js';

export type { InterfaceAddress, NetInterface };

/**
 * Multicast-capable interfaces with at least one address, optionally only those named in
 * `allow`, sorted by name. IPv6 link-local addresses are kept (mDNS over IPv6 lives on them).
 */
export function listInterfaces(allow?: readonly string[], ipv6 = true): NetInterface[] {
  return listUsable({ allow, ipv6, multicast: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The error for a host where mDNS cannot work at all, saying why and what to do. */
export function noInterfaceError(allow?: readonly string[]): RollcallError {
  const seen = interfaceNames().join(', ') || 'none';
  const filter = allow ? ` among the interfaces option (${allow.join(', ')})` : '';
  return new RollcallError(
    'UNSUPPORTED',
    `no multicast-capable network interface is up${filter} (interfaces seen: ${seen}). mDNS needs a LAN interface that is up, ` +
      'has carrier and has multicast enabled. In Docker, multicast does not cross the default bridge: use --network host or a ' +
      'macvlan network. Under WSL2 (NAT networking) use networkingMode=mirrored. Otherwise pick another registry kind ' +
      '(consul or gossip).',
    { adapter: 'mdns' },
  );
}

/** A stable fingerprint of an interface list, so polling only reports real changes. */
export function interfacesKey(list: readonly NetInterface[]): string {
  return list.map((i) => `${i.name}|${i.v4.map((a) => a.address).join(',')}|${i.v6.map((a) => a.address).join(',')}`).join(';');
}

/** Which interfaces appeared or changed (need probing and announcing) and which vanished. */
export function diffInterfaces(
  before: readonly NetInterface[],
  after: readonly NetInterface[],
): { added: NetInterface[]; removed: NetInterface[] } {
  const old = new Map(before.map((i) => [i.name, interfacesKey([i])]));
  const now = new Set(after.map((i) => i.name));
  return {
    added: after.filter((i) => old.get(i.name) !== interfacesKey([i])),
    removed: before.filter((i) => !now.has(i.name)),
  };
}

/** Parses IPv4 dotted quads into a number (no validation beyond the shape; callers pass OS-reported or received addresses). */
function v4ToInt(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0 || v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function v6Words(address: string): number[] | undefined {
  const bare = address.replace(/%.*$/, '');
  const halves = bare.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}

function sameSubnet(source: string, local: InterfaceAddress, family: 4 | 6): boolean {
  if (family === 4) {
    const a = v4ToInt(source);
    const b = v4ToInt(local.address);
    const m = v4ToInt(local.netmask);
    return a !== undefined && b !== undefined && m !== undefined && (a & m) >>> 0 === (b & m) >>> 0;
  }
  const a = v6Words(source);
  const b = v6Words(local.address);
  const m = v6Words(local.netmask);
  if (!a || !b || !m) return false;
  return a.every((w, i) => (w & (m[i] as number)) === ((b[i] as number) & (m[i] as number)));
}

/**
 * The interface a packet from `source` arrived on, when the source is on-link (RFC 6762 §11):
 * IPv6 link-local sources carry their interface (`%eth0`); others are matched by subnet, the
 * only attribution a socket bound to the wildcard address has.
 */
export function attribute(list: readonly NetInterface[], source: string, family: 4 | 6): NetInterface | undefined {
  if (family === 6) {
    const zone = /%(.+)$/.exec(source)?.[1];
    if (zone !== undefined && /^fe80:/i.test(source)) return list.find((i) => i.name === zone && i.v6.length > 0);
    return list.find((i) => i.v6.some((a) => a.address === source)) ?? list.find((i) => i.v6.some((a) => sameSubnet(source, a, 6)));
  }
  // Our own packets heard back come from the interface that owns their source, even when two
  // interfaces share a subnet (a laptop on Ethernet and Wi-Fi of one LAN).
  return list.find((i) => i.v4.some((a) => a.address === source)) ?? list.find((i) => i.v4.some((a) => sameSubnet(source, a, 4)));
}
