/**
 * Several services per host, the default deployment: three rollcall processes and an
 * avahi-daemon share port 5353 on one host, a browser sits on another, and everyone finds
 * everyone, round after round as the processes come and go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Recorder } from '../conformance/helpers.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { type AvahiDaemon, createLan, type Lan, startAvahi } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason(['avahi']);
const ROUNDS = 3;

describe('mdns: one host, many responders', { timeout: 180_000, skip }, () => {
  let lan: Lan<'shared' | 'browser'>;
  let avahi: AvahiDaemon;
  before(async () => {
    lan = await createLan({ hosts: ['shared', 'browser'], ipv6: false });
    avahi = await startAvahi(lan.hosts.shared, { hostName: 'shared-avahi' });
    await avahi.publish('avahi service', '_rollcall._tcp', 7000, ['txtvers=1', 'name=avahi-svc', 'id=avahi-1']);
  });
  after(async () => {
    await avahi?.stop();
    await lan?.destroy();
  });

  it('shared host: 3 rollcall processes + avahi on one host and a browser on another find each other, repeatedly', async (t) => {
    const { shared, browser } = lan.hosts;
    const watcherHost = await spawnRegistry({ options: { kind: 'mdns' }, netns: browser.netns });
    t.after(() => watcherHost.kill());
    const rec = new Recorder(watcherHost.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    await rec.until((r) => r.nodeIds('avahi-svc').length === 1, 10_000, 'the avahi service on the browser host');

    for (let round = 1; round <= ROUNDS; round++) {
      const procs: RemoteRegistry[] = await Promise.all(
        [1, 2, 3].map(() => spawnRegistry({ options: { kind: 'mdns' }, netns: shared.netns })),
      );
      t.after(() => Promise.allSettled(procs.map((p) => p.kill())));
      await Promise.all(
        procs.map((p, i) =>
          p.register({
            name: `svc-${i + 1}`,
            version: `r${round}`,
            nodes: [{ id: `p${i + 1}-r${round}`, address: `${shared.address}:${8000 + i}` }],
          }),
        ),
      );
      // The browser on the other host sees all three and avahi's.
      await rec.until(
        (r) => [1, 2, 3].every((i) => r.nodeIds(`svc-${i}`).includes(`p${i}-r${round}`)),
        10_000,
        `round ${round}: three services on the browser host`,
      );
      // Each process finds its neighbours on the same host, and avahi's service.
      await Promise.all(
        procs.map((p, i) =>
          eventually(
            async () => {
              for (const j of [1, 2, 3]) {
                if (j === i + 1) continue;
                const versions = await p.getService(`svc-${j}`, { timeout: 2000 }).catch(() => []);
                if (
                  !versions.some((s) => s.version === `r${round}` && s.nodes.some((n) => n.address === `${shared.address}:${8000 + j - 1}`))
                )
                  return false;
              }
              return (await p.listServices()).some((s) => s.name === 'avahi-svc');
            },
            10_000,
            `round ${round}: process ${i + 1} finds its neighbours and avahi`,
            200,
          ),
        ),
      );
      // avahi, on the same host, sees them too.
      await eventually(
        async () => {
          const names = (await avahi.browse('_rollcall._tcp')).map((s) => s.name);
          return [1, 2, 3].every((i) => names.includes(`p${i}-r${round}`));
        },
        15_000,
        `round ${round}: avahi-browse lists the three`,
        500,
      );
      for (const p of procs) assert.equal((await p.remoteStats()).sharedPort, 1, 'port 5353 is seen as shared');
      await Promise.all(procs.map((p) => p.close()));
      await rec.until((r) => [1, 2, 3].every((i) => r.nodeIds(`svc-${i}`).length === 0), 5000, `round ${round}: goodbyes`);
      assert.deepEqual(rec.nodeIds('avahi-svc'), ['avahi-1']);
    }
  });
});
