/**
 * Wildcard node addresses (`0.0.0.0`, `::`) on Consul. A server listening on every interface must
 * still be registered with an address other hosts can reach: the local address of the route to the
 * agent is the interface this host reaches the cluster by. When that route is loopback (the agent
 * runs on this host, the usual deployment), the agent's own advertised address is this host's
 * address as the cluster sees it, and Consul uses it for a service registered without an address.
 * @module
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The `Address` to register for a wildcard node, given the local end of the route to the agent ('' = the agent's own). */
export function wildcardAddress(local: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(local)?.[1] ?? local;
  if (v4 === '::1' || /^127\./.test(v4) || v4 === '' || isWildcardHost(v4)) return '';
  return v4;
}

/**
 * The local address the kernel would send from towards the agent at `origin`. A UDP socket is
 * connected, which picks the route, and never written to: no packet leaves.
 */
export async function localAddressTowards(origin: string): Promise<string> {
  const url = new URL(origin);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const target = isIP(host) ? { address: host, family: isIP(host) } : await lookup(host);
  const socket = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, target.address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/** Per agent, the address wildcard nodes are registered with; found once, found again after a failure. */
export class WildcardAddresses {
  readonly #known = new Map<string, Promise<string>>();

  for(origin: string): Promise<string> {
    let known = this.#known.get(origin);
    if (!known) {
      // No route to the agent: let the agent fill in its own address (the register will tell whether it answers).
      known = localAddressTowards(origin).then(wildcardAddress, () => {
        this.#known.delete(origin);
        return '';
      });
      this.#known.set(origin, known);
    }
    return known;
  }
}
