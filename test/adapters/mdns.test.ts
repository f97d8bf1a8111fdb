/**
 * The conformance suite on the mdns adapter, across LAN hosts: every registry is a child process
 * on its own network-namespace host, so each test's discovery crosses a real bridge by multicast.
 * Timings allow for probing (about 1 s before a name is announced) and the one-second rate limit.
 */
import { after, it } from 'node:test';
import { testRegistry } from '../conformance/suite.js';
import type { RemoteRegistry } from '../harness/remote.js';
import { type LanRegistries, lanRegistries, lanSkipReason } from '../mdns/lan-registries.js';

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
  });
}
