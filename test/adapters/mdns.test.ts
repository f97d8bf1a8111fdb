/**
 * The conformance suite on the mdns adapter, across LAN hosts: every registry is a child process
 * on its own network-namespace host, so each test's discovery crosses a real bridge by multicast.
 * Timings allow for probing (about 1 s before a name is announced) and the one-second rate limit.
 */
import { after, it } from 'node:test';
import type { Registry } from '../../src/index.js';
import { testRegistry } from '../conformance/suite.js';
import type { RemoteRegistry } from '../harness/remote.js';
import { type LanRegistries, lanRegistries, lanSkipReason } from '../mdns/lan-registries.js';
import type { LanHost } from '../peers/lan.js';

const skip = lanSkipReason();
if (skip) {
  it('conformance: mdns across LAN hosts', { skip }, () => {});
} else {
  let env: Promise<LanRegistries> | undefined;
  const lan = () => {
    env ??= lanRegistries({ hosts: ['ca', 'cb', 'cc'] });
    return env;
  };
  after(async () => {
    if (env) await (await env).destroy();
  });
  let current: LanRegistries | undefined;
  const hostOfRegistry = (registry: Registry): LanHost => {
    const lan = current as LanRegistries;
    const address = lan.hostOf(registry);
    const host = Object.values(lan.lan.hosts).find((h) => h.address === address);
    if (!host) throw new Error(`no LAN host has address ${address}`);
    return host;
  };
  testRegistry({
    name: 'mdns (dns-sd) across LAN hosts',
    create: async () => {
      current = await lan();
      return current.create();
    },
    crash: (registry) => (registry as RemoteRegistry).kill(),
    stats: (registry) => (registry as RemoteRegistry).remoteStats(),
    host: (registry) => (current as LanRegistries).hostOf(registry as RemoteRegistry),
    createBeside: async (registry) => {
      const lanNow = await lan();
      const address = lanNow.hostOf(registry);
      return lanNow.create(Object.values(lanNow.lan.hosts).find((h) => h.address === address));
    },
    timing: { ttl: 3000, propagation: 8000, expiry: 6000, concurrency: 100, churnOps: 24 },
    // Watchers run in child processes that read their events at once: there is no slow consumer here
    // to overflow (the core's resync is tested in process on memory, consul and the test adapter).
    capabilities: { resync: false },
    // Unplugging the cable of a registry's host leaves it without a usable interface (checked every 2 s).
    blindness: {
      cut: (registry) => hostOfRegistry(registry).linkDown('cable'),
      restore: (registry) => hostOfRegistry(registry).linkUp(),
      notice: 10_000,
    },
  });
}
