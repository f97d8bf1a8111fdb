/**
 * A lookup storm between two LAN hosts: 400 live services on one, 2,000 concurrent cold
 * `getService` calls of distinct names on the other (the 400 and 1,600 that exist nowhere).
 * Their questions do not fit one packet (2,000 browse names are about 80 KB): before questions
 * were split, 250 of them made a packet the responder dropped as oversize and 2,000 one the
 * kernel refused to send (EMSGSIZE), and every lookup failed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRollcallError } from '../../src/index.js';
import { spawnRegistry } from '../harness/remote.js';
import { createLan, requireLan } from '../peers/lan.js';

const LIVE = 400;
const ABSENT = 1600;

describe('mdns lookup storm', { timeout: 180_000 }, () => {
  it('lookup storm: 2,000 concurrent cold lookups of distinct names find the 400 that exist, at their addresses', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b'], ipv6: false });
    t.after(() => lan.destroy());
    const { a: ha, b: hb } = lan.hosts;
    const a = await spawnRegistry({ options: { kind: 'mdns' }, netns: ha.netns });
    t.after(() => a.kill());
    const address = (i: number) => `${ha.address}:${10_000 + i}`;
    await Promise.all(
      Array.from({ length: LIVE }, (_, i) =>
        a.register({ name: `svc-${i}`, nodes: [{ id: `svc-${i}-1`, address: address(i) }] }, { ttl: 120_000 }),
      ),
    );
    // The browser starts once the announcing steps are over (3 s), so it has heard nothing: every lookup is cold.
    await new Promise((r) => setTimeout(r, 3500));
    // Patience for two busy processes on a shared machine (the child takes each call over a pipe); found ones return at once.
    const b = await spawnRegistry({ options: { kind: 'mdns', lookupTimeout: 5000 }, netns: hb.netns });
    t.after(() => b.kill());
    const names = [...Array.from({ length: LIVE }, (_, i) => `svc-${i}`), ...Array.from({ length: ABSENT }, (_, i) => `absent-${i}`)];
    const started = performance.now();
    const results = await Promise.allSettled(names.map((n) => b.getService(n)));
    const took = performance.now() - started;
    const wrong: string[] = [];
    results.forEach((r, i) => {
      const name = names[i] as string;
      if (i < LIVE) {
        const got = r.status === 'fulfilled' ? r.value[0]?.nodes.map((n) => n.address).join(',') : String(r.reason);
        if (got !== address(i)) wrong.push(`${name}: ${got}`);
      } else if (r.status !== 'rejected' || !isRollcallError(r.reason, 'NOT_FOUND'))
        wrong.push(`${name}: ${r.status === 'fulfilled' ? 'found' : String(r.reason)}`);
    });
    const stats = await b.remoteStats();
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${names.length} lookups went wrong (in ${Math.round(took)} ms)`);
    assert.equal(stats.backendErrors, 0, 'no send failed');
  });
});
