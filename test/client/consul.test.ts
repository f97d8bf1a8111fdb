/**
 * The cache and its selector on a real Consul agent, with a counting HTTP proxy in front of the
 * agent so that what the cache sends is counted on the wire: a storm of 1,000 concurrent cold
 * lookups is one request; warm lookups are none; a register through the cache is seen at once; the
 * agent stopped (SIGSTOP) under a warm cache leaves lookups answering, flagged stale, until it is
 * back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CachedLookup, type CachedRegistry, createRegistry, isRollcallError, type Registry, withCache } from '../../src/index.js';
import { service, uniqueName } from '../conformance/helpers.js';
import { type DevAgent, requirePeer, startDevAgent } from '../peers/consul.js';
import { blockingIndex, type CountingProxy, startCountingProxy } from './http-proxy.js';

interface Setup {
  agent: DevAgent;
  proxy: CountingProxy;
  /** Registers straight at the agent (not through the proxy). */
  owner: Registry;
  cache: CachedRegistry;
}

async function setUp(t: Parameters<typeof requirePeer>[0], consul: Record<string, unknown> = {}): Promise<Setup | undefined> {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return undefined;
  const proxy = await startCountingProxy(agent.address);
  const owner = await createRegistry({ kind: 'consul', address: agent.address, ttl: 3_000 });
  const cache = withCache(await createRegistry({ kind: 'consul', address: proxy.address, ttl: 3_000, ...consul }), {
    retry: { initialDelay: 100, maxDelay: 1_000 },
  });
  t.after(async () => {
    try {
      process.kill(agent.pid, 'SIGCONT');
    } catch {}
    await Promise.allSettled([cache.close(), owner.close()]);
    await proxy.close();
    await agent.stop();
  });
  return { agent, proxy, owner, cache };
}

const idsOf = (services: readonly { nodes: readonly { id: string }[] }[]) => services.flatMap((s) => s.nodes.map((n) => n.id)).sort();

describe('cache on consul', () => {
  it('1,000 concurrent cold lookups of one name are one request to the agent; warm lookups none', async (t) => {
    const s = await setUp(t);
    if (!s) return;
    const name = uniqueName('storm');
    await s.owner.register(service(name, [{ id: `${name}-1`, port: 9001 }]));
    const answers = await Promise.all(Array.from({ length: 1000 }, () => s.cache.getService(name)));
    assert.ok(answers.every((a) => idsOf(a).join() === `${name}-1`));
    const reads = s.proxy.forService(name);
    const immediate = reads.filter((r) => blockingIndex(r) === 0);
    assert.equal(immediate.length, 1, `reads of ${name}: ${reads.map((r) => r.url).join(', ')}`);
    // The only other read is the watch's blocking follow-up (it waits for a change).
    assert.ok(reads.length <= 2, `reads of ${name}: ${reads.map((r) => r.url).join(', ')}`);
    const before = s.proxy.requests.length;
    for (let i = 0; i < 1000; i++) await s.cache.getService(name);
    assert.equal(s.proxy.requests.length, before, 'warm lookups send nothing');
    assert.equal(s.cache.stats().cacheWatches, 1);
  });

  it('a missing name is one request for any number of lookups, and is seen when it appears', async (t) => {
    const s = await setUp(t);
    if (!s) return;
    const name = uniqueName('missing');
    const misses = await Promise.allSettled(Array.from({ length: 200 }, () => s.cache.getService(name)));
    assert.ok(misses.every((r) => r.status === 'rejected' && isRollcallError(r.reason, 'NOT_FOUND')));
    for (let i = 0; i < 100; i++) await assert.rejects(s.cache.getService(name), (e) => isRollcallError(e, 'NOT_FOUND'));
    assert.equal(s.proxy.forService(name).filter((r) => blockingIndex(r) === 0).length, 1);
    await s.owner.register(service(name, [{ id: `${name}-1`, port: 9002 }]));
    await waitFor(async () => idsOf(await s.cache.getService(name).catch(() => [])).length === 1);
  });

  it('a lookup right after register() through the cache sees the node', async (t) => {
    const s = await setUp(t);
    if (!s) return;
    const name = uniqueName('reg');
    await assert.rejects(s.cache.getService(name), (e) => isRollcallError(e, 'NOT_FOUND'));
    for (let i = 0; i < 5; i++) {
      await s.cache.register(service(name, [{ id: `${name}-${i}`, port: 9100 + i }]));
      const ids = idsOf(await s.cache.getService(name));
      assert.ok(ids.includes(`${name}-${i}`), `after register of ${name}-${i}: ${ids}`);
    }
    await s.cache.deregister(service(name, [{ id: `${name}-0`, port: 9100 }]));
    assert.ok(!idsOf(await s.cache.getService(name)).includes(`${name}-0`));
  });

  it('the selector rotates over live nodes and follows a deregistration', async (t) => {
    const s = await setUp(t);
    if (!s) return;
    const name = uniqueName('sel');
    const nodes = [0, 1, 2].map((i) => ({ id: `${name}-${i}`, port: 9200 + i }));
    await s.owner.register(service(name, nodes));
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) picks.push((await s.cache.selector({ strategy: 'round-robin' }).select(name)).id);
    assert.deepEqual(
      picks,
      [0, 1, 2, 0, 1, 2].map((i) => `${name}-${i}`),
    );
    await s.owner.deregister(service(name, [nodes[1] as (typeof nodes)[number]]));
    await waitFor(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await s.cache.selector({ strategy: 'round-robin' }).select(name)).id);
      return !seen.has(`${name}-1`) && seen.size === 2;
    });
    await assert.rejects(s.cache.selector({ version: '^2' }).select(name), (e) => isRollcallError(e, 'NONE_AVAILABLE'));
  });

  for (const how of ['SIGSTOP', 'kill and restart'] as const) {
    it(`agent gone under a warm cache (${how}): lookups keep answering, flagged stale, and recover`, async (t) => {
      const s = await setUp(t, { requestTimeout: 1_000, wait: 2_000 });
      if (!s) return;
      const name = uniqueName('stale');
      await s.owner.register(service(name, [{ id: `${name}-1`, port: 9300 }]));
      const warm = await s.cache.lookup(name);
      assert.equal(warm.stale, false);
      if (how === 'SIGSTOP') process.kill(s.agent.pid, 'SIGSTOP');
      else await s.agent.kill();
      const stoppedAt = performance.now();
      let flagged: number | undefined;
      while (performance.now() - stoppedAt < 15_000) {
        const t0 = performance.now();
        const answer: CachedLookup = await s.cache.lookup(name);
        assert.ok(performance.now() - t0 < 50, 'answered from memory');
        assert.deepEqual(idsOf(answer.services), [`${name}-1`]);
        if (answer.stale) {
          flagged = performance.now() - stoppedAt;
          assert.equal(s.cache.status(name)?.state, 'stale');
          assert.ok(answer.staleFor >= 0 && answer.staleFor < flagged + 50, `staleFor ${answer.staleFor}`);
          break;
        }
        await sleep(50);
      }
      assert.ok(flagged !== undefined, 'the answer is flagged stale while the agent is gone');
      // Still answering, still stale, a while later.
      await sleep(500);
      const later = await s.cache.lookup(name);
      assert.ok(later.stale && idsOf(later.services).join() === `${name}-1`);
      const backAt = performance.now();
      if (how === 'SIGSTOP') process.kill(s.agent.pid, 'SIGCONT');
      else await s.agent.restart(); // an empty agent: the owner registers its node again within ttl/3
      // A restarted agent is empty until the owner's next beat: the copy follows it (NOT_FOUND meanwhile).
      await waitFor(async () => {
        const answer = await s.cache.lookup(name).catch(() => undefined);
        return answer !== undefined && !answer.stale && idsOf(answer.services).join() === `${name}-1`;
      }, 15_000);
      assert.equal(s.cache.status(name)?.state, 'live');
      assert.ok(s.cache.stats().cacheStaleServed >= 2);
      t.diagnostic(
        `flagged stale ${Math.round(flagged)} ms after ${how}, live ${Math.round(performance.now() - backAt)} ms after the agent was back`,
      );
    });
  }
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(25);
  }
}
