/**
 * This machine's network interfaces as the OS reports them, with what Node's `os` module cannot
 * say (on Linux, from sysfs: up, carrier, multicast). The one place that walks
 * `networkInterfaces()`: mdns picks the interfaces it runs on from it, the gossip transport the
 * address it advertises for a wildcard bind, the CLI what it prints.
 * @module
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface InterfaceAddress {
  readonly address: string;
  readonly netmask: string;
  /** IPv6 scope id (interface index) for link-local addresses. */
  readonly scopeid?: number;
}

export interface NetInterface {
  readonly name: string;
  readonly v4: readonly InterfaceAddress[];
  readonly v6: readonly InterfaceAddress[];
}

export interface ListInterfacesOptions {
  /** Only these interface names. */
  allow?: readonly string[];
  /** Keep IPv6 addresses. @default true */
  ipv6?: boolean;
  /** Only interfaces with multicast enabled (what mDNS needs). @default true */
  multicast?: boolean;
}

// Linux <net/if.h> flags, read from sysfs; Node's os module does not expose them.
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

/**
 * Linux: up, not loopback, with carrier (sysfs `flags` omits RUNNING, so the operational state
 * says whether a cable is in), and multicast on when asked. Undefined when sysfs cannot tell.
 */
function linuxUsable(name: string, multicast: boolean): boolean | undefined {
  if (process.platform !== 'linux' || !/^[\w.:@-]+$/.test(name)) return undefined;
  try {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    if (!Number.isFinite(flags)) return undefined;
    if ((flags & IFF_UP) === 0 || (flags & IFF_LOOPBACK) !== 0 || (multicast && (flags & IFF_MULTICAST) === 0)) return false;
    const state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
    // "unknown" is what many virtual interfaces report while working.
    return state === 'up' || state === 'unknown';
  } catch {
    return undefined;
  }
}

/**
 * Usable non-loopback interfaces with at least one address, in the order the OS lists them (its
 * primary interface usually first). IPv6 link-local addresses are kept (mDNS over IPv6 lives on
 * them); callers that need routable addresses skip them.
 */
export function listInterfaces(options: ListInterfacesOptions = {}): NetInterface[] {
  const { allow, ipv6 = true, multicast = true } = options;
  const out: NetInterface[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (!addresses || (allow && !allow.includes(name))) continue;
    const usable = linuxUsable(name, multicast);
    if (usable === false) continue;
    if (usable === undefined && addresses.every((a) => a.internal)) continue;
    const v4 = addresses.filter((a) => a.family === 'IPv4' && !a.internal).map((a) => ({ address: a.address, netmask: a.netmask }));
    const v6 = ipv6
      ? addresses
          .filter((a) => a.family === 'IPv6' && !a.internal)
          .map((a) => ({ address: a.address, netmask: a.netmask, ...(a.scopeid ? { scopeid: a.scopeid } : {}) }))
      : [];
    if (v4.length + v6.length > 0) out.push({ name, v4, v6 });
  }
  return out;
}

/** Every interface name the OS reports, usable or not (for error messages). */
export function interfaceNames(): string[] {
  return Object.keys(networkInterfaces());
}
