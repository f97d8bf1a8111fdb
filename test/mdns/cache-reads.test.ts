/**
 * Reads from the cache, observed inside a LAN host (an mdns registry may only run in a
 * namespace): a cold lookup waits no longer than the lookup timeout, a known service is answered
 * at once with frozen shared snapshots, and a closed registry rejects CLOSED. This is what the
 * cross-host conformance suite cannot see through its process boundary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason();
const root = new URL('../..', import.meta.url).pathname;
const reader = new URL('./cache-reader.ts', import.meta.url).pathname;

describe('mdns: reads from the cache', { timeout: 60_000, skip }, () => {
  let lan: Lan<'owner' | 'reader'>;
  before(async () => {
    lan = await createLan({ hosts: ['owner', 'reader'], ipv6: false });
  });
  after(() => lan?.destroy());

  it('cache: cold lookup within the timeout, warm lookups at once with frozen shared snapshots, CLOSED after close', async (t) => {
    const owner = await spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.owner.netns });
    t.after(() => owner.kill());
    await owner.register({
      name: 'cached',
      version: '1.0.0',
      nodes: [{ id: 'cached-1', address: `${lan.hosts.owner.address}:80`, metadata: { a: 'b' } }],
    });
    // Let the announcements pass, so the reader's cold lookup is answered by a query, not by chance.
    await new Promise((r) => setTimeout(r, 3500));
    const result = await lan.hosts.reader.run(process.execPath, ['--import', 'tsx', reader], { cwd: root, timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    const found = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}');
    assert.equal(found.coldNodes, 1, 'a cold lookup finds the service');
    assert.ok(found.coldMs < 400, `${JSON.stringify(found)} the cold lookup took ${found.coldMs} ms (lookupTimeout 250 ms)`);
    assert.equal(found.missingCode, 'NOT_FOUND');
    assert.ok(found.missingMs < 400, `an unknown service is NOT_FOUND after the lookup timeout, not the caller's (${found.missingMs} ms)`);
    assert.equal(found.frozen, true, 'deeply frozen');
    assert.equal(found.sameObject, true, 'the same snapshot for every caller until something changes');
    assert.ok(
      found.warmNs - found.floorNs < 2000,
      `warm getService costs ${found.warmNs} ns vs ${found.floorNs} ns for an awaited Map.get`,
    );
    assert.deepEqual(found.closed, [true, true, true, true], 'every call after close rejects CLOSED');
  });
});
