/**
 * Multi-homed hosts on namespace LANs: a second network card for a host of one {@link Lan},
 * cabled to the bridge of another, so one "host" sits on two separate links (two bridges, two
 * subnets) with nothing routing between them.
 *
 * Built entirely from `createLan` LANs: the extra card is a veth whose host end (`eth1`, …) lives
 * in the host's namespace and whose other end is a port of the second LAN's bridge, inside that
 * LAN's bridge namespace. Deleting either namespace deletes the pair, so the LANs' own `destroy()`
 * (also run on exit and on signals) cleans it up; nothing is ever configured in the machine's own
 * namespace.
 *
 * Deliberately, the extra card gets no 224.0.0.0/4 route: the host's only multicast route stays on
 * `eth0`, as on a real host whose default route points one way, so a multicast that reaches the
 * second link was sent there explicitly (IP_MULTICAST_IF), not by the routing table.
 */
import { execFile } from 'node:child_process';
import { createLan, type Lan, type LanHost } from './lan.js';

/** One network card of a host: its address, and the same cuts `LanHost` offers for `eth0`. */
export interface HostInterface {
  ifname: string;
  address: string;
  /** Link-local IPv6 address, when IPv6 is on for this card. */
  address6?: string;
  /**
   * Cut this card off its LAN. `cable` downs the bridge-side veth (NO-CARRIER, address and routes
   * kept); `admin` downs the card itself (the kernel flushes the routes through it).
   */
  linkDown(mode?: 'cable' | 'admin'): Promise<void>;
  /** Undo linkDown. */
  linkUp(): Promise<void>;
}

export interface AttachOptions {
  /** The card's name in the host; default `eth1`. */
  ifname?: string;
  /** Its IPv4 address on the other LAN, e.g. `169.254.232.100` (pick one no host of that LAN has). */
  address: string;
  /** Prefix length; default 24 (the LANs' own). */
  prefix?: number;
  /** Keep IPv6 on for the card (link-local, DAD skipped); default false. */
  ipv6?: boolean;
}

function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

async function sysctl(host: LanHost, path: string, value: string): Promise<void> {
  const r = await host.run('sh', ['-c', `echo ${value} > ${path}`], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${host.netns}: ${path}=${value}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

const IFNAME_RE = /^eth[1-9]$/;

/**
 * Give `host` (a host of some LAN) a second card on `lan`: `ifname` in the host, plugged into
 * `lan`'s bridge. The card goes away with either LAN.
 */
export async function attachInterface(host: LanHost, lan: Lan, opts: AttachOptions): Promise<HostInterface> {
  const ifname = opts.ifname ?? 'eth1';
  if (!IFNAME_RE.test(ifname)) throw new Error(`attachInterface: bad interface name ${JSON.stringify(ifname)} (eth1..eth9)`);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(opts.address)) throw new Error(`attachInterface: bad address ${opts.address}`);
  const prefix = opts.prefix ?? 24;
  // The bridge side: LAN ports are `v<host>`, so an `x` prefix never collides with them.
  const port = `x${host.name}${ifname.slice(3)}`;
  const bridgeNetns = lan.bridgeNetns;
  const ns = host.netns;
  await ip(['-n', ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNetns]);
  await ip(['-n', bridgeNetns, 'link', 'set', port, 'master', 'br0']);
  await ip(['-n', bridgeNetns, 'link', 'set', port, 'up']);
  if (opts.ipv6) {
    await sysctl(host, `/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, '0');
    await sysctl(host, `/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, '0');
    await sysctl(host, `/proc/sys/net/ipv6/conf/${ifname}/router_solicitations`, '0');
  } else {
    await sysctl(host, `/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, '1');
  }
  await ip(['-n', ns, 'addr', 'add', `${opts.address}/${prefix}`, 'dev', ifname]);
  await ip(['-n', ns, 'link', 'set', ifname, 'multicast', 'on', 'up']);
  let address6: string | undefined;
  if (opts.ipv6) {
    const out = await ip(['-n', ns, '-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link']);
    address6 = /inet6 (fe80::[0-9a-f:]+)\//.exec(out)?.[1];
  }
  return {
    ifname,
    address: opts.address,
    ...(address6 ? { address6 } : {}),
    async linkDown(mode: 'cable' | 'admin' = 'cable'): Promise<void> {
      if (mode === 'cable') await ip(['-n', bridgeNetns, 'link', 'set', port, 'down']);
      else await ip(['-n', ns, 'link', 'set', ifname, 'down']);
    },
    async linkUp(): Promise<void> {
      await ip(['-n', bridgeNetns, 'link', 'set', port, 'up']);
      // The connected route comes back with the link; there never was a multicast route here.
      await ip(['-n', ns, 'link', 'set', ifname, 'up']);
    },
  };
}

/** `eth0` of a LAN host as a {@link HostInterface}. */
export function primaryInterface(host: LanHost): HostInterface {
  return {
    ifname: host.ifname,
    address: host.address,
    ...(host.address6 ? { address6: host.address6 } : {}),
    linkDown: (mode) => host.linkDown(mode),
    linkUp: () => host.linkUp(),
  };
}

export interface TwoLansOptions<M extends string, A extends string, B extends string> {
  /** The multi-homed host: `eth0` on LAN 1, `eth1` on LAN 2. */
  multiHomed: M;
  /** Hosts only on LAN 1 (169.254.`subnet1`.0/24). */
  lan1: readonly A[];
  /** Hosts only on LAN 2 (169.254.`subnet2`.0/24). */
  lan2: readonly B[];
  /** Default 231. */
  subnet1?: number;
  /** Default 232. */
  subnet2?: number;
  /** Default false (IPv4 only, no IPv6 noise). */
  ipv6?: boolean;
}

export interface TwoLans<M extends string, A extends string, B extends string> {
  lan1: Lan<M | A>;
  lan2: Lan<B>;
  /** The multi-homed host (its `eth0` is on LAN 1; run things in it through this). */
  multi: LanHost;
  /** Its cards: `eth0` on LAN 1, `eth1` on LAN 2. */
  cards: { eth0: HostInterface; eth1: HostInterface };
  /** Hosts of either LAN by name. */
  hosts: Record<A | B, LanHost>;
  /** Destroys both LANs (kills their processes, deletes their namespaces). Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Two separate LANs (two bridges, two subnets) and one host on both, with no routing, forwarding
 * or reflection between them: whatever crosses from one link to the other crosses because a
 * process on the multi-homed host sent it.
 */
export async function createTwoLans<const M extends string, const A extends string, const B extends string>(
  opts: TwoLansOptions<M, A, B>,
): Promise<TwoLans<M, A, B>> {
  const subnet1 = opts.subnet1 ?? 231;
  const subnet2 = opts.subnet2 ?? 232;
  if (subnet1 === subnet2) throw new Error('createTwoLans: the two LANs need different subnets');
  const names = [opts.multiHomed, ...opts.lan1, ...opts.lan2];
  if (new Set(names).size !== names.length) throw new Error('createTwoLans: host names must be unique across both LANs');
  if (opts.lan2.length === 0 || opts.lan2.length > 250) throw new Error('createTwoLans: LAN 2 needs 1..250 hosts of its own');
  const ipv6 = opts.ipv6 ?? false;
  const [r1, r2] = await Promise.allSettled([
    createLan({ hosts: [opts.multiHomed, ...opts.lan1], subnet: subnet1, ipv6 }),
    createLan({ hosts: [...opts.lan2], subnet: subnet2, ipv6 }),
  ]);
  const destroyBoth = () => Promise.allSettled([r1, r2].map((r) => (r.status === 'fulfilled' ? r.value.destroy() : undefined)));
  if (r1.status === 'rejected' || r2.status === 'rejected') {
    await destroyBoth();
    throw r1.status === 'rejected' ? r1.reason : (r2 as PromiseRejectedResult).reason;
  }
  const lan1 = r1.value;
  const lan2 = r2.value;
  const multi = lan1.hosts[opts.multiHomed];
  let eth1: HostInterface;
  try {
    // Last octet past every host of LAN 2 (createLan numbers them from .1).
    eth1 = await attachInterface(multi, lan2, { ifname: 'eth1', address: `169.254.${subnet2}.${opts.lan2.length + 1}`, ipv6 });
  } catch (err) {
    await destroyBoth();
    throw err;
  }
  const hosts = {} as Record<A | B, LanHost>;
  for (const n of opts.lan1) hosts[n] = lan1.hosts[n];
  for (const n of opts.lan2) hosts[n] = lan2.hosts[n];
  return {
    lan1,
    lan2,
    multi,
    cards: { eth0: primaryInterface(multi), eth1 },
    hosts,
    async destroy(): Promise<void> {
      await destroyBoth();
    },
  };
}
