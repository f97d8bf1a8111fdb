/**
 * The cache's timing on a simulated clock, deterministic: when idle and missing names are
 * evicted, and how far apart the retries of a failing watch are (exponential, jittered, capped).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createMemoryRegistry } from '../../src/adapters/memory.js';
import { type CachedRegistry, type Registry, RollcallError, type WatchOptions, withCache } from '../../src/index.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';

const open: CachedRegistry[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((r) => r.close()));
});

describe('cache timing on a simulated clock', () => {
  it('evicts an idle name between evictAfter and 1.25x it, a missing one after evictMissingAfter', async () => {
    const clock = new SimulatedClock();
    const inner = createMemoryRegistry();
    await inner.register({ name: 'found', nodes: [{ id: 'a', address: '10.0.0.1:1' }] });
    const cache = withCache(inner, { clock, evictAfter: 60_000, evictMissingAfter: 5_000 });
    open.push(cache);
    await cache.getService('found');
    await cache.getService('missing').catch(() => {});
    const goneAt = new Map<string, number>();
    while (clock.now() < 100_000) {
      await clock.runFor(250);
      for (const name of ['found', 'missing']) if (!goneAt.has(name) && cache.status(name) === undefined) goneAt.set(name, clock.now());
    }
    const missing = goneAt.get('missing') as number;
    const found = goneAt.get('found') as number;
    assert.ok(missing >= 5_000 && missing <= 5_000 * 1.25 + 250, `missing evicted at ${missing}`);
    assert.ok(found >= 60_000 && found <= 60_000 * 1.25 + 250, `found evicted at ${found}`);
    assert.equal(inner.stats().watchers, 0);
  });

  it('a name looked up now and then is never evicted', async () => {
    const clock = new SimulatedClock();
    const inner = createMemoryRegistry();
    await inner.register({ name: 'x', nodes: [{ id: 'a', address: '10.0.0.1:1' }] });
    const cache = withCache(inner, { clock, evictAfter: 10_000 });
    open.push(cache);
    for (let t = 0; t < 100_000; t += 9_000) {
      await cache.getService('x');
      await clock.runFor(9_000);
    }
    assert.equal(cache.stats().cacheEvictions, 0);
    assert.equal(cache.stats().cacheWatchesOpened, 1);
  });

  it('retries a refused watch with exponential, jittered, capped delays', async () => {
    const clock = new SimulatedClock();
    const real = createMemoryRegistry();
    const attempts: number[] = [];
    // The real registry behind a wrapper that refuses watches (as a denied backend does) and notes when.
    const refusing: Registry = Object.assign(Object.create(real) as Registry, {
      watch(_o?: WatchOptions) {
        attempts.push(clock.now());
        throw new RollcallError('UNAVAILABLE', 'watch refused (fault injected)');
      },
      stats: () => real.stats(),
      close: () => real.close(),
    });
    const cache = withCache(refusing, { clock, retry: { initialDelay: 1_000, maxDelay: 8_000 }, coldTimeout: Number.POSITIVE_INFINITY });
    open.push(cache);
    await assert.rejects(cache.getService('x'), (e) => e instanceof RollcallError && e.code === 'UNAVAILABLE');
    await clock.runFor(50_000);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    const ceilings = [1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
    for (const [i, ceiling] of ceilings.entries()) {
      const gap = gaps[i] as number;
      assert.ok(gap >= ceiling / 2 && gap <= ceiling, `retry ${i + 1} after ${gap} ms (ceiling ${ceiling})`);
    }
    assert.equal(cache.status('x')?.retries, attempts.length);
    assert.equal(cache.stats().cacheWatchFailures, attempts.length);
  });
});
