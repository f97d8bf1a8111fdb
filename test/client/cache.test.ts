/**
 * The watch-driven cache on the memory adapter: one watch per name, lookups from memory, shared
 * cold lookups, missing names, register through the cache, eviction, the entry bound, and retry of
 * a failed watch with the stale flag while it is retried.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryRegistry } from '../../src/adapters/memory.js';
import { isRollcallError, type Registry, RollcallError, type Watcher, type WatchOptions, withCache } from '../../src/index.js';

const open: Registry[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((r) => r.close()));
});

function memory(name = `cache-${Math.random().toString(36).slice(2)}`): Registry {
  const r = createMemoryRegistry({ name });
  open.push(r);
  return r;
}

/** A real registry whose getService calls are counted: what the cache asks the backend for. */
function counted(inner: Registry): Registry & { gets: number; watches: number } {
  const wrapper = Object.create(inner) as Registry & { gets: number; watches: number };
  wrapper.gets = 0;
  wrapper.watches = 0;
  wrapper.getService = (name, o) => {
    wrapper.gets++;
    return inner.getService(name, o);
  };
  wrapper.watch = (o) => {
    wrapper.watches++;
    return inner.watch(o);
  };
  wrapper.stats = () => inner.stats();
  wrapper.close = () => inner.close();
  return wrapper;
}

const greeter = (id: string, version = '1.0.0', port = 8080) => ({
  name: 'greeter',
  version,
  nodes: [{ id, address: `10.0.0.1:${port}` }],
});

describe('cache on memory', () => {
  it('opens one watch on the first lookup and answers later lookups from memory', async () => {
    const shared = `m-${Math.random()}`;
    const backend = memory(shared);
    await backend.register(greeter('a'));
    const inner = counted(memory(shared));
    const cache = withCache(inner);
    open.push(cache);
    const first = await cache.getService('greeter');
    assert.deepEqual(
      first.flatMap((s) => s.nodes.map((n) => n.id)),
      ['a'],
    );
    for (let i = 0; i < 1000; i++) assert.equal(await cache.getService('greeter'), first);
    const stats = cache.stats();
    assert.equal(inner.watches, 1);
    assert.equal(inner.gets, 0);
    assert.equal(stats.cacheWatches, 1);
    assert.equal(stats.watchers, 1, 'the registry holds the one watch');
    assert.equal(stats.cacheMisses, 1);
    assert.equal(stats.cacheHits, 1000);
    // The watch keeps the copy current.
    await backend.register(greeter('b'));
    await waitFor(async () => (await cache.getService('greeter'))[0]?.nodes.length === 2);
  });

  it('concurrent cold lookups share one watch', async () => {
    const shared = `m-${Math.random()}`;
    await memory(shared).register(greeter('a'));
    const inner = counted(memory(shared));
    const cache = withCache(inner);
    open.push(cache);
    const answers = await Promise.all(Array.from({ length: 500 }, () => cache.getService('greeter')));
    assert.ok(answers.every((a) => a === answers[0]));
    assert.equal(inner.watches, 1);
    assert.equal(cache.stats().cacheMisses, 500);
  });

  it('remembers a missing name with one watch and sees it appear', async () => {
    const shared = `m-${Math.random()}`;
    const other = memory(shared);
    const inner = counted(memory(shared));
    const cache = withCache(inner);
    open.push(cache);
    const misses = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getService('greeter')));
    assert.ok(misses.every((r) => r.status === 'rejected' && isRollcallError(r.reason, 'NOT_FOUND')));
    await assert.rejects(cache.getService('greeter'), (e) => isRollcallError(e, 'NOT_FOUND'));
    assert.equal(inner.watches, 1);
    assert.equal(cache.stats().cacheMissing, 1);
    await other.register(greeter('late'));
    await waitFor(async () => (await cache.getService('greeter').catch(() => []))[0]?.nodes[0]?.id === 'late');
    assert.equal(inner.watches, 1);
  });

  it('a lookup after register() through the cache sees the node', async () => {
    const cache = withCache(memory());
    open.push(cache);
    await assert.rejects(cache.getService('greeter'), (e) => isRollcallError(e, 'NOT_FOUND'));
    for (let i = 0; i < 20; i++) {
      await cache.register(greeter(`n${i}`, '1.0.0', 8000 + i));
      const ids = (await cache.getService('greeter')).flatMap((s) => s.nodes.map((n) => n.id));
      assert.ok(ids.includes(`n${i}`), `n${i} in ${ids}`);
    }
    await cache.deregister(greeter('n0'));
    const ids = (await cache.getService('greeter')).flatMap((s) => s.nodes.map((n) => n.id));
    assert.ok(!ids.includes('n0'));
  });

  it('evicts names nobody looks up and stops their watches', async () => {
    const shared = `m-${Math.random()}`;
    await memory(shared).register(greeter('a'));
    const inner = memory(shared);
    const cache = withCache(inner, { evictAfter: 200, evictMissingAfter: 100 });
    open.push(cache);
    await cache.getService('greeter');
    await cache.getService('missing').catch(() => {});
    assert.equal(cache.stats().cacheEntries, 2);
    assert.equal(inner.stats().watchers, 2);
    // The missing name goes first (100-125 ms), the found one after 200-250 ms.
    await waitFor(() => cache.stats().cacheEntries === 1);
    assert.equal(cache.status('missing'), undefined);
    assert.equal(cache.status('greeter')?.state, 'live');
    await waitFor(() => cache.stats().cacheEntries === 0);
    const stats = cache.stats();
    assert.equal(stats.cacheWatches, 0);
    assert.equal(stats.cacheEvictions, 2);
    assert.equal(inner.stats().watchers, 0, 'no watch left behind');
  });

  it('a name looked up keeps its entry', async () => {
    const shared = `m-${Math.random()}`;
    await memory(shared).register(greeter('a'));
    const cache = withCache(memory(shared), { evictAfter: 200 });
    open.push(cache);
    const until = performance.now() + 700;
    while (performance.now() < until) {
      await cache.getService('greeter');
      await sleep(20);
    }
    assert.equal(cache.stats().cacheEvictions, 0);
    assert.equal(cache.stats().cacheWatchesOpened, 1);
  });

  it('holds at most maxEntries names, evicting the least recently used', async () => {
    const inner = memory();
    const cache = withCache(inner, { maxEntries: 3 });
    open.push(cache);
    for (let i = 0; i < 10; i++) await cache.getService(`svc-${i}`).catch(() => {});
    const stats = cache.stats();
    assert.equal(stats.cacheEntries, 3);
    assert.equal(stats.cacheWatches, 3);
    assert.equal(inner.stats().watchers, 3);
    assert.equal(stats.cacheEvictions, 7);
  });

  it('retries a failed watch with backoff and serves the last copy flagged stale meanwhile', async () => {
    const shared = `m-${Math.random()}`;
    await memory(shared).register(greeter('a'));
    const real = memory(shared);
    // A real registry whose watches can be made to end with an error, as a denied Consul watch does.
    let failNext = 0;
    const watchers = new Set<Watcher>();
    const faulty = Object.create(real) as Registry;
    faulty.watch = (o?: WatchOptions) => {
      if (failNext > 0) {
        failNext--;
        throw new RollcallError('UNAVAILABLE', 'watch refused (fault injected)');
      }
      const w = real.watch(o);
      watchers.add(w);
      return w;
    };
    faulty.stats = () => real.stats();
    faulty.close = () => real.close();
    const failWatch = (w: Watcher) => (w as unknown as { fail(e: Error): void }).fail(new RollcallError('UNAVAILABLE', 'backend gone'));
    const cache = withCache(faulty, { retry: { initialDelay: 100, maxDelay: 400 } });
    open.push(cache);
    const fresh = await cache.lookup('greeter');
    assert.equal(fresh.stale, false);
    failNext = 3;
    const opened = cache.stats().cacheWatchesOpened;
    const t0 = performance.now();
    for (const w of watchers) failWatch(w);
    await sleep(0);
    const stale = await cache.lookup('greeter');
    assert.equal(stale.stale, true);
    assert.equal(stale.services, fresh.services, 'the last copy is served');
    assert.equal(cache.status('greeter')?.state, 'stale');
    await waitFor(() => cache.status('greeter')?.state === 'live', 10_000);
    const took = performance.now() - t0;
    // Attempts after 50-100, 100-200, 200-400 ms (three refused) and one more of 200-400 ms that works.
    assert.ok(took >= 50 + 100 + 200 + 200, `retried after ${took} ms`);
    assert.equal(cache.stats().cacheWatchFailures, 4);
    assert.equal(cache.stats().cacheWatchesOpened, opened + 1);
    assert.equal((await cache.lookup('greeter')).stale, false);
  });

  it('rejects lookups after close and closes the registry', async () => {
    const inner = memory();
    const cache = withCache(inner);
    await cache.getService('x').catch(() => {});
    await cache.close();
    await assert.rejects(cache.getService('x'), (e) => isRollcallError(e, 'CLOSED'));
    await assert.rejects(inner.getService('x'), (e) => isRollcallError(e, 'CLOSED'));
    assert.equal(cache.stats().cacheWatches, 0);
  });

  it('validates its options', () => {
    const inner = memory();
    for (const bad of [{ evictAfter: 0 }, { maxEntries: 0 }, { coldTimeout: -1 }, { retry: { initialDelay: Number.NaN } }]) {
      assert.throws(
        () => withCache(inner, bad),
        (e) => isRollcallError(e, 'INVALID_OPTIONS'),
      );
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
}
