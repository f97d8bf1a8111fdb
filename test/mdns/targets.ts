/** An (interface, family) for unit tests of the parts that send: only its name and IPv4 address are read. */
import type { Target } from '../../src/adapters/mdns/prober.js';

export function ipv4Target(name = 'eth0', address = '169.254.1.2'): Target {
  return { iface: { name, v4: [{ address }], v6: [] }, family: 4 } as unknown as Target;
}
