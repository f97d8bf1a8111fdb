/** Interfaces and (interface, family) targets for unit tests: one IPv4 address on a /24 each. */
import type { NetInterface } from '../../src/adapters/mdns/interfaces.js';
import type { Target } from '../../src/adapters/mdns/prober.js';

export function ipv4Interface(name: string, address: string): NetInterface {
  return { name, v4: [{ address, netmask: '255.255.255.0' }], v6: [] };
}

export function ipv4Target(name = 'eth0', address = '169.254.1.2'): Target {
  return { iface: ipv4Interface(name, address), family: 4 };
}
