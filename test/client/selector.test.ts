/**
 * The selector bound to a cache, on the memory adapter: strategies (round-robin positions per
 * service name, shared by selectors made per call), filters (version ranges, metadata, endpoint),
 * marks and what happens when every node is marked; and version filters as pure functions.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryRegistry } from '../../src/adapters/memory.js';
import { type CachedRegistry, isRollcallError, latestOf, versionFilter, withCache } from '../../src/index.js';

const open: CachedRegistry[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((r) => r.close()));
});

async function cacheWith(options: Parameters<typeof withCache>[1] = {}): Promise<CachedRegistry> {
  const cache = withCache(createMemoryRegistry(), options);
  open.push(cache);
  await cache.register({
    name: 'greeter',
    version: '1.2.0',
    endpoints: [{ name: 'Say.Hello' }],
    nodes: [
      { id: 'a', address: '10.0.0.1:1', metadata: { zone: 'x' } },
      { id: 'b', address: '10.0.0.1:2', metadata: { zone: 'y' } },
    ],
  });
  await cache.register({ name: 'greeter', version: '2.0.0', nodes: [{ id: 'c', address: '10.0.0.1:3', metadata: { zone: 'x' } }] });
  await cache.register({ name: 'greeter', version: '2.1.0-beta.1', nodes: [{ id: 'd', address: '10.0.0.1:4' }] });
  await cache.register({ name: 'greeter', version: 'nightly', nodes: [{ id: 'e', address: '10.0.0.1:5' }] });
  await cache.register({ name: 'greeter', nodes: [{ id: 'f', address: '10.0.0.1:6' }] });
  return cache;
}

const ids = async (cache: CachedRegistry, n: number, options: Parameters<ReturnType<CachedRegistry['selector']>['select']>[1]) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await cache.selector().select('greeter', options)).id);
  return out;
};

describe('selector bound to a cache', () => {
  it('round-robin rotates across selectors made per call, per service name', async () => {
    const cache = await cacheWith();
    await cache.register({
      name: 'other',
      nodes: [
        { id: 'o1', address: '10.0.0.2:1' },
        { id: 'o2', address: '10.0.0.2:2' },
      ],
    });
    const picks: string[] = [];
    for (let i = 0; i < 12; i++) {
      picks.push((await cache.selector({ strategy: 'round-robin' }).select('greeter')).id);
      // Another service's picks in between do not move greeter's position.
      await cache.selector({ strategy: 'round-robin' }).select('other');
    }
    // Versions sorted ("", 1.2.0, 2.0.0, 2.1.0-beta.1, nightly), nodes by id within each.
    assert.deepEqual(picks, ['f', 'a', 'b', 'c', 'd', 'e', 'f', 'a', 'b', 'c', 'd', 'e']);
  });

  it('random spreads over every matching node', async () => {
    const cache = await cacheWith();
    const counts = new Map<string, number>();
    for (const id of await ids(cache, 3000, {})) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
    for (const [id, n] of counts) assert.ok(n > 350 && n < 650, `${id} picked ${n} times of 3000`);
  });

  it('filters by version: exact, ranges, "", *, latest, non-semver', async () => {
    const cache = await cacheWith();
    const set = async (version: string) => [...new Set(await ids(cache, 200, { version }))].sort();
    assert.deepEqual(await set('1.2.0'), ['a', 'b']);
    assert.deepEqual(await set('v1.2.0'), ['a', 'b']);
    assert.deepEqual(await set('^1.0.0'), ['a', 'b']);
    assert.deepEqual(await set('>=1.2.0 <3'), ['a', 'b', 'c'], 'prereleases stay out of a range that does not name them');
    assert.deepEqual(await set('^2.1.0-beta.0'), ['d']);
    assert.deepEqual(await set('2.x || 1.2.x'), ['a', 'b', 'c']);
    assert.deepEqual(await set('nightly'), ['e']);
    assert.deepEqual(await set(''), ['f']);
    assert.deepEqual(await set('*'), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(await set('latest'), ['d'], 'the highest semver version');
    await assert.rejects(cache.selector().select('greeter', { version: '^3' }), (e) => isRollcallError(e, 'NONE_AVAILABLE'));
  });

  it('filters by metadata and endpoint; no match is NONE_AVAILABLE, no service NOT_FOUND', async () => {
    const cache = await cacheWith();
    assert.deepEqual([...new Set(await ids(cache, 100, { metadata: { zone: 'x' } }))].sort(), ['a', 'c']);
    assert.deepEqual([...new Set(await ids(cache, 100, { endpoint: 'Say.Hello' }))].sort(), ['a', 'b']);
    assert.deepEqual(await ids(cache, 5, { endpoint: 'Say.Hello', metadata: { zone: 'y' } }), ['b', 'b', 'b', 'b', 'b']);
    await assert.rejects(cache.selector({ metadata: { zone: 'z' } }).select('greeter'), (e) => isRollcallError(e, 'NONE_AVAILABLE'));
    await assert.rejects(cache.selector().select('nobody'), (e) => isRollcallError(e, 'NOT_FOUND'));
  });

  it('avoids a marked node for markFor, shared by every selector of the cache', async () => {
    const cache = await cacheWith({ markFor: 300 });
    const only12 = { version: '1.2.0' };
    cache.selector().mark('greeter', 'a');
    assert.deepEqual([...new Set(await ids(cache, 50, only12))], ['b']);
    await sleep(350);
    assert.deepEqual([...new Set(await ids(cache, 200, only12))].sort(), ['a', 'b'], 'the mark ends');
    const s = cache.selector();
    s.mark('greeter', 'b');
    s.unmark('greeter', 'b');
    assert.deepEqual([...new Set(await ids(cache, 200, only12))].sort(), ['a', 'b'], 'unmark lifts it');
  });

  it('every node marked: open picks the one whose mark ends first, closed rejects NONE_AVAILABLE', async () => {
    const cache = await cacheWith();
    const s = cache.selector({ version: '1.2.0' });
    s.mark('greeter', 'b');
    await sleep(5);
    s.mark('greeter', 'a');
    assert.deepEqual(await ids(cache, 5, { version: '1.2.0' }), ['b', 'b', 'b', 'b', 'b']);
    await assert.rejects(s.select('greeter', { whenAllMarked: 'closed' }), (e) => isRollcallError(e, 'NONE_AVAILABLE'));
    s.reset('greeter');
    assert.ok(['a', 'b'].includes((await s.select('greeter', { whenAllMarked: 'closed' })).id));
  });

  it('follows changes: a deregistered node is no longer picked', async () => {
    const cache = await cacheWith();
    await cache.deregister({ name: 'greeter', version: '1.2.0', nodes: [{ id: 'a', address: '10.0.0.1:1' }] });
    assert.ok(!(await ids(cache, 200, {})).includes('a'));
  });
});

describe('version filters', () => {
  const matches = (filter: string, version: string) => versionFilter(filter).matches(version);
  it('ranges follow npm semver', () => {
    const table: Array<[string, string, boolean]> = [
      ['1.2.3', '1.2.3', true],
      ['1.2.3', 'v1.2.3', true],
      ['1.2.3', '1.2.4', false],
      ['^1.2.3', '1.9.0', true],
      ['^1.2.3', '2.0.0', false],
      ['^1.2.3', '1.2.2', false],
      ['^0.2.3', '0.2.9', true],
      ['^0.2.3', '0.3.0', false],
      ['^0.0.3', '0.0.4', false],
      ['~1.2.3', '1.2.9', true],
      ['~1.2.3', '1.3.0', false],
      ['~1', '1.9.9', true],
      ['1.x', '1.4.0', true],
      ['1.x', '2.0.0', false],
      ['1.2.*', '1.2.7', true],
      ['1', '1.0.0', true],
      ['>=1.0.0 <2.0.0', '1.5.0', true],
      ['>= 1.0.0 < 2.0.0', '2.0.0', false],
      ['>1.2', '1.2.9', false],
      ['>1.2', '1.3.0', true],
      ['<=1.2', '1.2.9', true],
      ['1.0.0 - 1.4', '1.4.9', true],
      ['1.0.0 - 1.4.0', '1.4.1', false],
      ['1.x || >=3', '3.1.0', true],
      ['1.x || >=3', '2.1.0', false],
      ['^1.2.3', '1.5.0-rc.1', false],
      ['^1.2.3-rc.1', '1.2.3-rc.2', true],
      ['^1.2.3-rc.1', '1.2.4-rc.1', false],
      ['1.2.3-rc.1', '1.2.3-rc.1', true],
      ['*', '', true],
      ['*', 'anything', true],
      ['', '', true],
      ['', '1.0.0', false],
      ['nightly', 'nightly', true],
      ['^1', 'nightly', false],
      ['1', '1', true],
      ['1', '2', false],
    ];
    for (const [filter, version, expected] of table) assert.equal(matches(filter, version), expected, `${filter} vs ${version}`);
  });
  it('latest is the highest semver, a literal "latest", else the last in natural order', () => {
    assert.equal(latestOf(['1.2.0', '1.10.0', '1.9.9', '2.0.0-rc.1', '']), '2.0.0-rc.1');
    assert.equal(latestOf(['2.0.0', '2.0.0-rc.1']), '2.0.0');
    assert.equal(latestOf(['1.0.0', 'latest']), 'latest');
    assert.equal(latestOf(['build-9', 'build-10', '']), 'build-10');
    assert.equal(latestOf([]), undefined);
  });
  it('a hostile filter is refused by its length, not by CPU', () => {
    const long = `${'1.x || '.repeat(10_000)}1.x`;
    const t0 = performance.now();
    assert.equal(matches(long, '1.0.0'), false);
    assert.ok(performance.now() - t0 < 100);
  });
});
