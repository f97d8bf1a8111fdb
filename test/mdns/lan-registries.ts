/**
 * mdns registries on a namespace LAN for the tests: each registry runs in a child process on a
 * LAN host of its own (round robin), so discovery always crosses the bridge, and a crash is a real
 * SIGKILL. A spare child per host is started ahead of time: starting Node with tsx takes about a
 * second, which would otherwise dominate suites that open registries per test.
 */
import type { Registry, RegistryOptions } from '../../src/index.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan, type LanHost, lanAvailable } from '../peers/lan.js';

export interface LanRegistries {
  lan: Lan;
  /** A registry on the next host in turn (or on `host`). */
  create(host?: LanHost, options?: Partial<RegistryOptions>): Promise<RemoteRegistry>;
  /** The LAN address of the host a registry runs on. */
  hostOf(registry: Registry): string;
  destroy(): Promise<void>;
}

export interface LanRegistriesOptions {
  hosts: readonly string[];
  /** Options every registry gets (kind mdns is implied). */
  options?: Partial<RegistryOptions>;
  /** Keep a spare child per host ready. @default true */
  warm?: boolean;
  ipv6?: boolean;
}

export async function lanRegistries(opts: LanRegistriesOptions): Promise<LanRegistries> {
  const lan = await createLan({ hosts: opts.hosts, ...(opts.ipv6 === undefined ? {} : { ipv6: opts.ipv6 }) });
  const hosts = Object.values(lan.hosts) as LanHost[];
  const base = { kind: 'mdns', ...opts.options } as RegistryOptions;
  const spares = new Map<LanHost, Promise<RemoteRegistry>>();
  const where = new WeakMap<Registry, string>();
  const all = new Set<RemoteRegistry>();
  let next = 0;
  let destroyed = false;

  const spawn = (host: LanHost, options: RegistryOptions) => {
    const p = spawnRegistry({ options, netns: host.netns, startTimeout: 30_000 });
    p.then((r) => all.add(r)).catch(() => {});
    return p;
  };
  const refill = (host: LanHost) => {
    if (opts.warm !== false && !destroyed) spares.set(host, spawn(host, base));
  };
  for (const h of hosts) refill(h);

  return {
    lan,
    async create(host?: LanHost, options?: Partial<RegistryOptions>): Promise<RemoteRegistry> {
      const h = host ?? (hosts[next++ % hosts.length] as LanHost);
      let registry: RemoteRegistry;
      const spare = options ? undefined : spares.get(h);
      if (spare) {
        spares.delete(h);
        refill(h);
        registry = await spare;
      } else registry = await spawn(h, { ...base, ...options } as RegistryOptions);
      where.set(registry, h.address);
      return registry;
    },
    hostOf(registry: Registry): string {
      const address = where.get(registry);
      if (!address) throw new Error('not a registry of this LAN');
      return address;
    },
    async destroy(): Promise<void> {
      destroyed = true;
      const pending = await Promise.allSettled(spares.values());
      for (const p of pending) if (p.status === 'fulfilled') all.add(p.value);
      await Promise.allSettled([...all].map((r) => r.kill()));
      await lan.destroy();
    },
  };
}

/**
 * Whether the LAN tests can run here. Under CI=true a missing prerequisite throws (the suite must
 * run there); elsewhere it prints a loud notice and returns the reason.
 */
export function lanSkipReason(need: Parameters<typeof lanAvailable>[0] = []): string | undefined {
  const status = lanAvailable(need);
  if (status.ok) return undefined;
  const message = `mDNS LAN test prerequisites missing: ${status.reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: this must not be skipped)`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  return message;
}
