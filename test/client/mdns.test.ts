/**
 * The cache and its selector on mdns across namespace LAN hosts: the registry behind the cache runs
 * on one host, the services on others, so every answer crossed a real bridge by multicast.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CachedRegistry, isRollcallError, type Registry, type RegistryStats, withCache } from '../../src/index.js';
import { service, uniqueName } from '../conformance/helpers.js';
import type { RemoteRegistry } from '../harness/remote.js';
import { type LanRegistries, lanRegistries, lanSkipReason } from '../mdns/lan-registries.js';

const skip = lanSkipReason();

/** A cache over a registry in a child process; the child's stats are read asynchronously, so `stats()` reports the last read. */
function cacheOver(remote: RemoteRegistry): { cache: CachedRegistry; remoteStats: () => Promise<RegistryStats> } {
  let last: RegistryStats = {
    kind: 'mdns',
    registrations: 0,
    watchers: 0,
    eventsDelivered: 0,
    resyncs: 0,
    dropped: 0,
    backendErrors: 0,
    watchersSyncing: 0,
    watchersBlind: 0,
    blindPeriods: 0,
  };
  const inner: Registry = {
    get kind() {
      return remote.kind;
    },
    capabilities: remote.capabilities,
    register: (s, o) => remote.register(s, o),
    deregister: (s) => remote.deregister(s),
    getService: (n, o) => remote.getService(n, o),
    listServices: (o) => remote.listServices(o),
    watch: (o) => remote.watch(o),
    stats: () => last,
    close: () => remote.close(),
    [Symbol.asyncDispose]: () => remote.close(),
  };
  const cache = withCache(inner, { coldTimeout: 15_000 });
  return {
    cache,
    remoteStats: async () => {
      last = await remote.remoteStats();
      return last;
    },
  };
}

const idsOf = (services: readonly { nodes: readonly { id: string }[] }[]) => services.flatMap((s) => s.nodes.map((n) => n.id)).sort();

describe('cache on mdns across LAN hosts', { skip }, () => {
  let env: LanRegistries | undefined;
  const lan = async () => {
    env ??= await lanRegistries({ hosts: ['la', 'lb', 'lc'] });
    return env;
  };
  after(async () => {
    await env?.destroy();
  });

  it('first lookups share one watch, later ones are served from memory, and changes arrive', async () => {
    const l = await lan();
    const hosts = Object.values(l.lan.hosts);
    const [owner, other, client] = await Promise.all([l.create(hosts[0]), l.create(hosts[1]), l.create(hosts[2])]);
    const { cache, remoteStats } = cacheOver(client);
    const name = uniqueName('lan');
    const registration = await owner.register(service(name, [{ id: `${name}-a`, port: 9401 }], '1.0.0', l.hostOf(owner)));
    const answers = await Promise.all(Array.from({ length: 200 }, () => cache.getService(name)));
    assert.ok(
      answers.every((a) => idsOf(a).join() === `${name}-a`),
      `got ${idsOf(answers[0] ?? [])}`,
    );
    assert.equal((await remoteStats()).watchers, 1, 'one watch in the registry behind the cache');
    const stats = cache.stats();
    assert.equal(stats.cacheWatchesOpened, 1);
    assert.equal(stats.cacheMisses, 200);
    for (let i = 0; i < 500; i++) await cache.getService(name);
    assert.equal(cache.stats().cacheHits, 500);

    // Another host joins: the watch brings it; the selector rotates over both.
    await other.register(service(name, [{ id: `${name}-b`, port: 9402 }], '1.1.0', l.hostOf(other)));
    await waitFor(async () => idsOf(await cache.getService(name)).length === 2);
    const picks = new Set<string>();
    for (let i = 0; i < 4; i++) picks.add((await cache.selector({ strategy: 'round-robin' }).select(name)).id);
    assert.deepEqual([...picks].sort(), [`${name}-a`, `${name}-b`]);
    assert.equal((await cache.selector().select(name, { version: '~1.1' })).id, `${name}-b`);

    // A goodbye from one host removes its node from the copy.
    await registration.deregister();
    await waitFor(async () => idsOf(await cache.getService(name)).join() === `${name}-b`);
    assert.equal(cache.stats().cacheWatchesOpened, 1);
    await cache.close();
    await Promise.all([owner.close(), other.close()]);
  });

  it('a missing name is remembered, then seen when it appears; register through the cache is seen at once', async () => {
    const l = await lan();
    const hosts = Object.values(l.lan.hosts);
    const [owner, client] = await Promise.all([l.create(hosts[0]), l.create(hosts[1])]);
    const { cache, remoteStats } = cacheOver(client);
    const name = uniqueName('gone');
    const misses = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getService(name)));
    assert.ok(misses.every((r) => r.status === 'rejected' && isRollcallError(r.reason, 'NOT_FOUND')));
    assert.equal((await remoteStats()).watchers, 1);
    assert.equal(cache.stats().cacheMissing, 1);
    await owner.register(service(name, [{ id: `${name}-1`, port: 9403 }], '1.0.0', l.hostOf(owner)));
    await waitFor(async () => idsOf(await cache.getService(name).catch(() => [])).length === 1);

    const own = uniqueName('own');
    await assert.rejects(cache.getService(own), (e) => isRollcallError(e, 'NOT_FOUND'));
    await cache.register(service(own, [{ id: `${own}-1`, port: 9404 }], '1.0.0', l.hostOf(client)));
    assert.deepEqual(idsOf(await cache.getService(own)), [`${own}-1`]);
    await cache.close();
    await owner.close();
  });

  it('the client host unplugged under a warm cache: lookups keep answering, flagged stale, and recover', async () => {
    const l = await lan();
    const hosts = Object.values(l.lan.hosts);
    const clientHost = hosts[1] as (typeof hosts)[number];
    const [owner, client] = await Promise.all([l.create(hosts[0]), l.create(clientHost)]);
    const { cache } = cacheOver(client);
    const name = uniqueName('unplug');
    await owner.register(service(name, [{ id: `${name}-1`, port: 9405 }], '1.0.0', l.hostOf(owner)));
    await waitFor(async () => idsOf(await cache.getService(name).catch(() => [])).length === 1);
    assert.equal((await cache.lookup(name)).stale, false);
    await clientHost.linkDown('cable');
    try {
      // No usable interface is noticed at the next interface poll (every 2 s).
      await waitFor(async () => (await cache.lookup(name)).stale, 10_000);
      const answer = await cache.lookup(name);
      assert.deepEqual(idsOf(answer.services), [`${name}-1`], 'the last known node is still served');
      assert.equal(cache.status(name)?.state, 'stale');
    } finally {
      await clientHost.linkUp();
    }
    await waitFor(async () => {
      const answer = await cache.lookup(name).catch(() => undefined);
      return answer !== undefined && !answer.stale && idsOf(answer.services).join() === `${name}-1`;
    });
    await cache.close();
    await owner.close();
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(50);
  }
}
