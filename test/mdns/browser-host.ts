/** The browser's host for unit tests under a fake clock: DNS-SD on one IPv4 link, nothing sent unless `query` says. */
import type { BrowserHost } from '../../src/adapters/mdns/browser.js';
import { DnsSdCodec } from '../../src/adapters/mdns/dns-sd.js';
import { ServiceView } from '../../src/view.js';
import { ipv4Interface } from './targets.js';

export const eth0 = ipv4Interface('eth0', '169.254.7.1');
export const codec = new DnsSdCodec('local');

export function browserHost(now: () => number, overrides: Partial<BrowserHost> = {}): BrowserHost {
  return {
    codec,
    view: new ServiceView({ adapter: 'mdns' }),
    query: () => {},
    portShared: () => false,
    targets: () => [{ iface: eth0, family: 4 }],
    noteDrop: () => {},
    ownPointers: () => [],
    now,
    ipv6: false,
    maxRecords: 1000,
    lookupTimeout: 250,
    maxQueryInterval: 3_600_000,
    ...overrides,
  };
}
