/**
 * Zero-configuration discovery on a LAN over multicast DNS (RFC 6762) and DNS-SD (RFC 6763),
 * with a second wire profile that speaks Go Micro's mDNS registry format.
 *
 * mDNS trusts the LAN: anyone on the link can publish, answer and say goodbye for any name.
 * Use it where every host on the segment is yours; use consul (ACLs, TLS) elsewhere.
 * @module rollcall/mdns
 */
import type { CommonOptions, Registry } from '../../registry.js';
import { MdnsRegistry } from './registry.js';
import { resolveOptions } from './settings.js';

export type { MdnsProfile } from './codec.js';

export interface MdnsOptions extends CommonOptions {
  /** Only for `createRegistry({ kind: 'mdns', ... })`; `createMdnsRegistry` ignores it. */
  kind?: 'mdns';
  /**
   * The wire format. `dns-sd` publishes standard DNS-SD (`_rollcall._tcp.local`, one subtype per
   * service name, key=value TXT) that avahi-browse and dns-sd list. `go-micro` speaks Go Micro's
   * mDNS registry format (domain `micro`, compressed JSON TXT), so Go Micro services and rollcall
   * find each other; standard tools cannot read it.
   * @default 'dns-sd'
   */
  profile?: 'dns-sd' | 'go-micro';
  /**
   * The mDNS domain, without a trailing dot.
   * @default 'local' for dns-sd, 'micro' for go-micro
   */
  domain?: string;
  /**
   * Only use these network interfaces (by name, e.g. `['eth0']`).
   * @default every interface that is up, has carrier and has multicast enabled (loopback excluded)
   */
  interfaces?: readonly string[];
  /**
   * Also run over IPv6 (ff02::fb on each interface with an IPv6 address).
   * @default true
   */
  ipv6?: boolean;
  /**
   * How long a lookup of a service the cache knows nothing about may wait for answers, in ms.
   * A lookup of a known (or continuously queried) service answers at once from the cache.
   * @default 250
   */
  lookupTimeout?: number;
  /**
   * How often the interface list is checked for changes, in ms. On a change, names are probed and
   * announced again and queries restart (RFC 6762 §8.3).
   * @default 2000
   */
  interfacePollInterval?: number;
  /**
   * The longest interval between two continuous queries of a watched service, in ms (the
   * interval starts at 1 s and doubles).
   * @default 3600000 for dns-sd (RFC 6762 §5.2), 60000 for go-micro (Go Micro servers do not always announce)
   */
  maxQueryInterval?: number;
  /**
   * The most records the cache holds. One source address may hold half of them; once full, a
   * record a watch or lookup asks for replaces the oldest one nobody asks for, and the rest is
   * dropped (counted in `stats().cacheRefused` and `stats().dropped`).
   * @default 10000
   */
  maxCacheRecords?: number;
  /** Ignored: mDNS needs no address. Accepted so `ROLLCALL_REGISTRY_ADDRESS` does not break it. */
  address?: string | readonly string[];
}

/**
 * Creates an mDNS registry: binds port 5353 (shared with avahi or mDNSResponder), joins the
 * multicast group on every usable interface, and rejects `UNSUPPORTED` on a host without one.
 *
 * The registration TTL becomes the TTL of each node's SRV, TXT and address records; nodes are
 * re-announced every `ttl / 3` and a node that dies silently disappears from other hosts when
 * its TTL runs out. A graceful deregistration reaches them after the RFC's one-second grace.
 */
export async function createMdnsRegistry(options: MdnsOptions = {}): Promise<Registry> {
  const { settings, codec } = resolveOptions(options);
  return MdnsRegistry.create(settings, codec);
}

export default createMdnsRegistry;
