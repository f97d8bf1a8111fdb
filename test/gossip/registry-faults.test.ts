/**
 * Real-process faults on the gossip registry: five registries, each a child process on its own
 * loopback address, on the `local` preset. A member whose process is stopped (SIGSTOP) long
 * enough to be suspected, then resumed (SIGCONT) before its suspicion runs out, refutes it:
 * nothing it registered is deleted anywhere. A member SIGKILLed while it holds a registration
 * (ttl 120 s): every other member's watch emits its delete within the SWIM detection bound
 * derived from the preset, not the ttl.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { record } from './process-cluster.js';

const N = 5;
const TTL = 120_000;
const config = local;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** memberlist's suspicion bounds for N members: what an accusation takes to become a death. */
const suspicionMin = suspicionTimeout(config.suspicionMult, N, config.probeInterval);
const suspicionMax = config.suspicionMaxTimeoutMult * suspicionMin;
/**
 * Detection bound, for the slowest member: the death verdict is gossiped only a few times on the
 * local preset and may miss it, so it must probe the dead one itself, at the latest in probe
 * 2(N - 1) after the kill (the rest of a shuffled sweep, then a reshuffled one with the dead member
 * last; the others answer its indirect probes with nacks, so awareness does not stretch the rounds),
 * wait out the probe timeout and, a lone accuser, the suspicion maximum; the death then reaches its
 * watch at once (a few gossip rounds of slack).
 */
const DETECTION_BOUND = 2 * (N - 1) * config.probeInterval + config.probeTimeout + suspicionMax + 10 * config.gossipInterval;

const members: RemoteRegistry[] = [];
after(async () => {
  for (const m of members) await m.close().catch(() => {});
});

async function until(what: string, ms: number, condition: () => Promise<boolean> | boolean): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await condition()) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

async function statusOf(viewer: RemoteRegistry, name: string): Promise<string | undefined> {
  return (await viewer.members()).find((m) => m.name === name)?.status;
}

describe('gossip registry processes under faults', { concurrency: 1 }, () => {
  it('five members form one cluster', async () => {
    const base = { kind: 'gossip', port: 0, preset: 'local', ttl: TTL } as const;
    const first = await spawnRegistry({ options: { ...base, bind: '127.0.0.61', name: `f-${process.pid}-0` } });
    members.push(first);
    const seed = String((await first.remoteStats()).address);
    members.push(
      ...(await Promise.all(
        [1, 2, 3, 4].map((i) =>
          spawnRegistry({ options: { ...base, bind: `127.0.0.${61 + i}`, name: `f-${process.pid}-${i}`, address: seed } }),
        ),
      )),
    );
    await until('every member lists five alive', 20_000, async () =>
      (await Promise.all(members.map((m) => m.members()))).every((list) => list.filter((x) => x.status === 'alive').length === N),
    );
  });

  it('a stopped member suspected and resumed before its suspicion ends refutes it: nothing is deleted', async () => {
    const [, , , x, ...rest] = members as [RemoteRegistry, RemoteRegistry, RemoteRegistry, RemoteRegistry, RemoteRegistry];
    const others = members.filter((m) => m !== x);
    const name = `f-${process.pid}-3`;
    await x.register({ name: 'paused', nodes: [{ id: 'p1', address: '10.0.0.3:80' }] });
    const watches = others.map((m) => record(m, 'paused'));
    await until('every other member shows p1', 5_000, () => watches.every((w) => w.events.some((e) => e.what === 'add:p1')));
    process.kill(x.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    let suspected = false;
    try {
      await until('another member suspects the stopped one', suspicionMin + 4 * config.probeInterval, async () => {
        suspected = (await Promise.all(others.map((m) => statusOf(m, name)))).some((s) => s === 'suspect');
        return suspected;
      });
    } finally {
      process.kill(x.pid, 'SIGCONT');
    }
    const stoppedFor = Date.now() - stoppedAt;
    assert.ok(suspected);
    // Past the longest the suspicion could have run: had it not been refuted, it would be dead by now.
    await sleep(suspicionMax + 2_000);
    for (const m of others) assert.equal(await statusOf(m, name), 'alive', 'refuted: alive everywhere');
    for (const [i, w] of watches.entries())
      assert.deepEqual(
        w.events.map((e) => e.what),
        ['add:p1'],
        `watch ${i}: nothing deleted`,
      );
    for (const m of others) assert.equal((await m.getService('paused'))[0]?.nodes.length, 1);
    process.stderr.write(`# stopped ${stoppedFor} ms (suspected, refuted); no delete in ${suspicionMax + 2_000} ms after\n`);
    for (const w of watches) w.stop();
    void rest;
  });

  it('SIGKILL of the member holding a registration: every other watch deletes it within the detection bound, not the ttl', async () => {
    const victim = members[4] as RemoteRegistry;
    const others = members.slice(0, 4);
    await victim.register({ name: 'doomed', nodes: [{ id: 'd1', address: '10.0.0.5:80' }] }, { ttl: TTL });
    const watches = others.map((m) => record(m, 'doomed'));
    await until('every other member shows d1', 5_000, () => watches.every((w) => w.events.some((e) => e.what === 'add:d1')));
    const killedAt = Date.now();
    await victim.kill();
    const took = await until(`every watch deletes d1 within ${DETECTION_BOUND} ms`, DETECTION_BOUND, () =>
      watches.every((w) => w.events.some((e) => e.what === 'remove:d1')),
    );
    const each = watches.map((w) => (w.events.find((e) => e.what === 'remove:d1')?.at ?? 0) - killedAt);
    process.stderr.write(`# deletes after SIGKILL: ${each.join(', ')} ms (bound ${DETECTION_BOUND} ms, ttl ${TTL} ms)\n`);
    assert.ok(took < DETECTION_BOUND && DETECTION_BOUND < TTL);
    for (const w of watches) w.stop();
  });
});
