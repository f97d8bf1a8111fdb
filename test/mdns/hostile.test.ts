/**
 * Hostile input on a real LAN, judged by what it costs: each test measures the target registry's
 * CPU time and heap (after a full collection) over a window of ordinary traffic first, then over
 * the same window with the attack on top, and asserts at most twice the un-attacked baseline.
 *
 * The ordinary traffic: host `a` keeps 40 nodes of one service alive with a 3 s TTL (an
 * announcement each second), the target on `b` watches that service and holds a node of its own
 * (the huge-TTL test's target only holds its node, on a LAN of its own).
 * The attacker on `x` sends huge TTLs, floods of fake services, forged records for the target's
 * own name, and oversize or malformed datagrams.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isRollcallError } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';
import { announcement, rawPeer } from './raw-peer.js';

const skip = lanSkipReason();
const WINDOW_MS = 4000;
/** Below this much CPU in a window, differences are scheduling noise, not work: ratios start above it. */
const CPU_FLOOR_MS = 60;
const STEADY = 'steady';
const STEADY_NODES = 40;

type Usage = { cpuMs: number; heapUsed: number };

describe('mdns hostile input: bounded CPU and memory', { timeout: 300_000, skip }, () => {
  let lan: Lan<'a' | 'b' | 'x'>;
  let a: RemoteRegistry;
  before(async () => {
    lan = await createLan({ hosts: ['a', 'b', 'x'], ipv6: false });
    a = await spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.a.netns });
    await Promise.all(
      Array.from({ length: STEADY_NODES }, (_, i) =>
        a.register(
          { name: STEADY, version: '1.0.0', nodes: [{ id: `${STEADY}-${i}`, address: `${lan.hosts.a.address}:${7000 + i}` }] },
          { ttl: 3000 },
        ),
      ),
    );
  });
  after(async () => {
    await a?.kill();
    await lan?.destroy();
  });

  /** A fresh target on b with the ordinary traffic running, and its baseline window measured. */
  async function target(
    t: import('node:test').TestContext,
    host = lan.hosts.b,
  ): Promise<{ b: RemoteRegistry; rec: Recorder; baseline: Usage; own: string }> {
    const b = await spawnRegistry({ options: { kind: 'mdns' }, netns: host.netns, env: { NODE_OPTIONS: '--expose-gc' } });
    t.after(() => b.kill());
    const rec = new Recorder(b.watch({ service: STEADY }));
    t.after(() => rec.stop());
    const own = `${host.address}:9000`;
    await b.register({ name: 'own', version: '1.0.0', nodes: [{ id: 'own-1', address: own }] }, { ttl: 30_000 });
    if (host === lan.hosts.b) await rec.until((r) => r.nodeIds(STEADY).length === STEADY_NODES, 10_000, 'the steady nodes');
    // Past the target's own announcing step (3 s) and the first refreshes: the steady state.
    await sleep(3500);
    return { b, rec, own, baseline: await window(b) };
  }

  /** CPU used over one window from now, and the heap at its end. */
  async function window(b: RemoteRegistry, during?: Promise<unknown>): Promise<Usage> {
    const start = await b.usage();
    await Promise.all([sleep(WINDOW_MS), during]);
    const end = await b.usage();
    return { cpuMs: end.cpuMs - start.cpuMs, heapUsed: end.heapUsed };
  }

  function assertBounded(what: string, baseline: Usage, attacked: Usage): void {
    const detail = `${what}: CPU ${attacked.cpuMs.toFixed(0)} ms vs ${baseline.cpuMs.toFixed(0)} ms un-attacked, heap ${mb(attacked.heapUsed)} vs ${mb(baseline.heapUsed)} MB`;
    process.stdout.write(`# ${detail}\n`);
    assert.ok(attacked.cpuMs <= 2 * Math.max(baseline.cpuMs, CPU_FLOOR_MS), `CPU over twice the baseline: ${detail}`);
    assert.ok(attacked.heapUsed <= 2 * baseline.heapUsed, `heap over twice the baseline: ${detail}`);
  }

  it('hostile: records with TTL 0xffffffff cost nothing once heard (no timer spins)', async (t) => {
    // A host of its own, as the registering process that spun was: a cache with other records woke
    // for them, and the overflowing timer was replaced by theirs.
    const quiet = await createLan({ hosts: ['q', 'x'], ipv6: false, subnet: 232 });
    t.after(() => quiet.destroy());
    const { b, baseline } = await target(t, quiet.hosts.q);
    const hx = quiet.hosts.x;
    const packets = Array.from({ length: 100 }, (_, i) =>
      hugeTtl(announcement(`huge-${i}`, `huge-${i}-host.local`, hx.address, 1000 + i, ['txtvers=1', `name=huge-${i}`, `id=huge-${i}-1`])),
    );
    await (await rawPeer(hx, { mode: 'send', bind: hx.address, port: 5353, packets })).done;
    const attacked = await window(b);
    assertBounded('100 nodes with TTL 0xffffffff', baseline, attacked);
    assert.ok(Number((await b.remoteStats()).cacheRecords) >= 400, 'the records were heard and cached');
  });

  it('hostile: a flood of 5,000 fake services at 1,000/s neither locks out a real one nor grows the registry past its bounds', async (t) => {
    const { b, baseline } = await target(t);
    const hx = lan.hosts.x;
    const flood = await rawPeer(hx, { mode: 'flood', bind: hx.address, prefix: 'fake', count: 5000, perSecond: 1000 });
    await flood.done;
    const stats = await b.remoteStats();
    // Registered after the flood; found at once by a lookup.
    await a.register({ name: 'late', version: '1.0.0', nodes: [{ id: 'late-1', address: `${lan.hosts.a.address}:8088` }] });
    const found = await b.getService('late', { timeout: 5000 }).catch((e: unknown) => e);
    assert.ok(!isRollcallError(found, 'NOT_FOUND') && !(found instanceof Error), `a real service after the flood: ${String(found)}`);
    assert.ok(Number(stats.cacheRecords) <= 10_000, `the cache stays within its bound (${stats.cacheRecords})`);
    assert.ok(Number(stats.cacheRefused) > 0, 'what the flood could not store is counted');
    assertBounded('after a flood of 5,000 fake services', baseline, await window(b));
  });

  it('hostile: forged records for our own name at 10/s change nothing we show and cost little', async (t) => {
    const { b, baseline, own } = await target(t);
    const hx = lan.hosts.x;
    const ownRec = new Recorder(b.watch({ service: 'own' }));
    t.after(() => ownRec.stop());
    await ownRec.until((r) => r.nodeIds('own').length === 1, 5000, 'our own node');
    const forged = announcement('own-1', 'evil.local', hx.address, 6666, ['txtvers=1', 'name=own', 'version=1.0.0', 'id=own-1']);
    const attack = () =>
      rawPeer(hx, { mode: 'send', bind: hx.address, port: 5353, packets: [forged], repeat: 40, intervalMs: 100 }).then((p) => p.done);
    let base = baseline;
    let attacked = await window(b, attack());
    // Each forged packet is defended (RFC 6762 §9), so this case runs closest to its bound (about 2.4x
    // a raw baseline of 30-60 ms); a window that a scheduling hiccup pushed over is measured once more,
    // against a fresh baseline. A real regression is over in both.
    if (attacked.cpuMs > 2 * Math.max(base.cpuMs, CPU_FLOOR_MS)) {
      process.stdout.write(`# forged records: ${attacked.cpuMs.toFixed(0)} ms vs ${base.cpuMs.toFixed(0)} ms, measured again\n`);
      await sleep(2000);
      base = await window(b);
      attacked = await window(b, attack());
    }
    const shown = ownRec.events.flatMap((e) => (e.type === 'resync' ? [] : e.service.nodes.map((n) => n.address)));
    assert.deepEqual([...new Set(shown)], [own], 'our own node was only ever shown at our address');
    assertBounded('forged records for our own name, 10/s', base, attacked);
  });

  it('hostile: oversize and malformed datagrams at 250/s are dropped at bounded cost', async (t) => {
    const { b, baseline } = await target(t);
    const hx = lan.hosts.x;
    const before = await b.remoteStats();
    const oversize = Buffer.alloc(9500, 0x41).toString('hex');
    const garbage = Array.from({ length: 24 }, () => randomBytes(12 + Math.floor(Math.random() * 1200)).toString('hex'));
    // A valid header promising 512 answers that are not there, and a compression loop.
    const lies = Buffer.from([0, 0, 0x84, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]).toString('hex');
    const attack = rawPeer(hx, {
      mode: 'send',
      bind: hx.address,
      port: 5353,
      packets: [oversize, lies, ...garbage],
      repeat: 38,
      intervalMs: 100,
    }).then((p) => p.done);
    const attacked = await window(b, attack);
    const dropped = (await b.remoteStats()).dropped - before.dropped;
    assert.ok(dropped >= 900, `the datagrams were dropped and counted (${dropped})`);
    assertBounded('oversize and malformed datagrams, 250/s', baseline, attacked);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** Every record of an encoded response rewritten to TTL 0xffffffff. */
function hugeTtl(hex: string): string {
  const buf = Buffer.from(hex, 'hex');
  // The announcement's records are PTR, SRV, TXT, A: walk them by their lengths (names are not compressed).
  let at = 12;
  const skipName = () => {
    while ((buf[at] as number) !== 0) at += (buf[at] as number) + 1;
    at += 1;
  };
  const count = buf.readUInt16BE(6);
  for (let i = 0; i < count; i++) {
    skipName();
    buf.writeUInt32BE(0xffffffff, at + 4);
    at += 10 + buf.readUInt16BE(at + 8);
  }
  return buf.toString('hex');
}
