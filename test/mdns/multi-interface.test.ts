/**
 * A host on two links. Two separate LANs (two bridges, 169.254.231.0/24 and 169.254.232.0/24,
 * nothing routing between them); M has `eth0` on LAN 1 and `eth1` on LAN 2, with its only
 * multicast route on eth0; A is only on LAN 1, B only on LAN 2. Each runs a registry in a child
 * process in its own namespace.
 *
 * What it proves about the per-interface transport (transport.ts, interfaces.ts, sender.ts):
 * M sends on each interface (not where the routing table points), joins the group and hears on
 * both, attributes what it hears to the right link, publishes a wildcard address as the address of
 * the link each packet leaves by, never carries one link's records to the other (RFC 6762 §11,
 * §14), and follows one interface going down and coming back without disturbing the other link.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service, WatchEvent } from '../../src/index.js';
import { isRollcallError } from '../../src/index.js';
import { applyEvent, eventually, Recorder } from '../conformance/helpers.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { createLan, type Lan, type LanHost } from '../peers/lan.js';
import { attachInterface, createTwoLans, type HostInterface, type TwoLans } from '../peers/lan-multihome.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason();
const OPTIONS = { kind: 'mdns', ipv6: false, interfacePollInterval: 500 } as const;
const TTL = 3000;
const FOUND_MS = 8000;
/** Probing takes under a second; a registration still pending after this is stuck. */
const REGISTER_MS = 8000;
const TEST_MS = 30_000;

/** The addresses `rec` currently shows for the nodes of `name`. */
function addressesOf(rec: Recorder, name: string): string[] {
  return [...rec.state.values()]
    .filter((s) => s.name === name)
    .flatMap((s) => s.nodes.map((n) => n.address))
    .sort();
}

/**
 * `registry.register(...)`, failing with M's probe counters instead of hanging when the name is never
 * established (say, a host that keeps losing the §8.2 tie-break against its own probes).
 */
async function registerWithin(registry: RemoteRegistry, ...args: Parameters<RemoteRegistry['register']>) {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const s = await registry.remoteStats().catch(() => undefined);
      const counters = s ? `probesSent=${s.probesSent} tieBreaksLost=${s.tieBreaksLost} conflicts=${s.conflicts}` : 'no stats';
      reject(new Error(`registering ${args[0].name} did not finish within ${REGISTER_MS} ms (${counters})`));
    }, REGISTER_MS);
  });
  try {
    return await Promise.race([registry.register(...args), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

/** A registry on each host, or none at all (the ones started are killed when another fails). */
async function spawnOn(hosts: readonly LanHost[]): Promise<RemoteRegistry[]> {
  const spawned = await Promise.allSettled(hosts.map((h) => spawnRegistry({ options: OPTIONS, netns: h.netns, startTimeout: 30_000 })));
  const failed = spawned.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(spawned.map((r) => (r.status === 'fulfilled' ? r.value.kill() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return spawned.map((r) => (r as PromiseFulfilledResult<RemoteRegistry>).value);
}

/** Whether `nodeId` of `name` was present after every event from `from` on (replaying all events). */
function presentThroughout(events: readonly WatchEvent[], name: string, nodeId: string, from: number): boolean {
  const state = new Map<string, Service>();
  for (const [i, event] of events.entries()) {
    applyEvent(state, event);
    if (i < from) continue;
    const has = [...state.values()].some((s) => s.name === name && s.nodes.some((n) => n.id === nodeId));
    if (!has) return false;
  }
  return true;
}

describe('mdns: a host on two links', { timeout: 90_000, skip }, () => {
  let net: TwoLans<'m', 'a', 'b'>;
  let m: RemoteRegistry;
  let a: RemoteRegistry;
  let b: RemoteRegistry;
  /** When M's long-lived wildcard node `early` was established (its three announcements end ~3 s later). */
  let earlyAt = 0;
  const recorders: Recorder[] = [];
  const watch = (registry: RemoteRegistry, service?: string): Recorder => {
    const rec = new Recorder(registry.watch(service === undefined ? {} : { service }));
    recorders.push(rec);
    return rec;
  };

  before(
    async () => {
      net = await createTwoLans({ multiHomed: 'm', lan1: ['a'], lan2: ['b'] });
      [m, a, b] = (await spawnOn([net.multi, net.hosts.a, net.hosts.b])) as [RemoteRegistry, RemoteRegistry, RemoteRegistry];
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await Promise.allSettled(recorders.map((r) => r.stop()));
    await Promise.allSettled([m, a, b].map((r) => r?.kill()));
    await net?.destroy();
  });

  it('sending: a node registered on M is found from LAN 1 (A) and from LAN 2 (B), though M routes multicast only via eth0', {
    timeout: TEST_MS,
  }, async () => {
    const { eth0 } = net.cards;
    const [recA, recB] = [watch(a, 'from-m'), watch(b, 'from-m')];
    await Promise.all([recA.watcher.synced, recB.watcher.synced]);
    await Promise.all([
      registerWithin(m, { name: 'from-m', nodes: [{ id: 'from-m-1', address: `${eth0.address}:9000` }] }),
      // For the `answers` test: a TTL of 2 minutes means no heartbeat (every TTL/3) during this
      // file, so once its announcements are over only answers to queries carry it.
      registerWithin(m, { name: 'early', nodes: [{ id: 'early-1', address: '0.0.0.0:7200' }] }, { ttl: 120_000 }).then(() => {
        earlyAt = Date.now();
      }),
    ]);
    await Promise.all([
      recA.until((r) => r.nodeIds('from-m').length === 1, FOUND_MS, 'A (LAN 1) to find M'),
      recB.until((r) => r.nodeIds('from-m').length === 1, FOUND_MS, 'B (LAN 2) to find M: M must send on eth1 too'),
    ]);
    // An explicit address is published as registered, on both links.
    assert.deepEqual(addressesOf(recA, 'from-m'), [`${eth0.address}:9000`]);
    assert.deepEqual(addressesOf(recB, 'from-m'), [`${eth0.address}:9000`]);
    const stats = await m.remoteStats();
    assert.equal(stats.socketErrors, 0, 'no send on either interface failed');
  });

  it('receiving: a watcher on M sees the nodes registered on A (LAN 1) and on B (LAN 2)', { timeout: TEST_MS }, async () => {
    const { a: ha, b: hb } = net.hosts;
    const recM = watch(m);
    await recM.watcher.synced;
    const droppedBefore = (await m.remoteStats()).dropped;
    await Promise.all([
      registerWithin(a, { name: 'on-a', nodes: [{ id: 'on-a-1', address: `${ha.address}:9001` }] }),
      registerWithin(b, { name: 'on-b', nodes: [{ id: 'on-b-1', address: `${hb.address}:9002` }] }),
    ]);
    await recM.until(
      (r) => r.nodeIds('on-a').length === 1 && r.nodeIds('on-b').length === 1,
      FOUND_MS,
      'M to hear A (on eth0) and B (on eth1)',
    );
    assert.deepEqual(addressesOf(recM, 'on-a'), [`${ha.address}:9001`]);
    assert.deepEqual(addressesOf(recM, 'on-b'), [`${hb.address}:9002`]);
    // Every packet was attributed to an interface it is on-link for; none was dropped as off-link.
    assert.equal((await m.remoteStats()).dropped, droppedBefore, 'M dropped nothing it heard');
  });

  it('attribution: M runs on both interfaces; a wildcard node is seen with M’s LAN 1 address by A and its LAN 2 address by B', {
    timeout: TEST_MS,
  }, async () => {
    const { eth0, eth1 } = net.cards;
    const [sm, sa, sb] = await Promise.all([m.remoteStats(), a.remoteStats(), b.remoteStats()]);
    assert.equal(sm.interfaces, 'eth0,eth1');
    assert.equal(sa.interfaces, 'eth0');
    assert.equal(sb.interfaces, 'eth0');
    const [recA, recB] = [watch(a, 'wild'), watch(b, 'wild')];
    await Promise.all([recA.watcher.synced, recB.watcher.synced]);
    const reg = await registerWithin(m, { name: 'wild', nodes: [{ id: 'wild-1', address: '0.0.0.0:7000' }] });
    assert.equal(reg.service.nodes[0]?.address, '0.0.0.0:7000', 'the registration keeps what was registered');
    await Promise.all([
      recA.until((r) => r.nodeIds('wild').length === 1, FOUND_MS, 'A to find the wildcard node'),
      recB.until((r) => r.nodeIds('wild').length === 1, FOUND_MS, 'B to find the wildcard node'),
    ]);
    assert.deepEqual(addressesOf(recA, 'wild'), [`${eth0.address}:7000`], 'A reaches M at its LAN 1 address');
    assert.deepEqual(addressesOf(recB, 'wild'), [`${eth1.address}:7000`], 'B reaches M at its LAN 2 address');
    // Still so after the announcements and the answers to both links' queries have settled.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(addressesOf(recA, 'wild'), [`${eth0.address}:7000`]);
    assert.deepEqual(addressesOf(recB, 'wild'), [`${eth1.address}:7000`]);
  });

  it('answers: a querier that joins LAN 2 after M’s announcements gets M’s answer there, with M’s LAN 2 address', {
    timeout: TEST_MS,
  }, async (t) => {
    const { eth1 } = net.cards;
    assert.ok(earlyAt > 0, 'M registered `early` in the sending test');
    // Let the announcements of `early` (0, 1 and 3 s after it was established) finish first.
    const quiet = earlyAt + 3500 - Date.now();
    if (quiet > 0) await new Promise((r) => setTimeout(r, quiet));
    // A second registry on B's host: it heard none of the announcements, and as the port is now
    // shared it asks by multicast (QM): M must answer on the interface the query came in on.
    const late = await spawnRegistry({ options: OPTIONS, netns: net.hosts.b.netns, startTimeout: 30_000 });
    t.after(() => late.kill());
    const rec = new Recorder(late.watch({ service: 'early' }));
    t.after(() => rec.stop());
    await rec.until((r) => r.nodeIds('early').length === 1, FOUND_MS, 'the late querier on LAN 2 to get an answer from M');
    assert.deepEqual(addressesOf(rec, 'early'), [`${eth1.address}:7200`], 'answered with the address of the link the query came from');
  });

  it('isolation: A and B never see each other’s nodes, not even while M holds both (no forwarding, no answers from the other link)', {
    timeout: TEST_MS,
  }, async () => {
    const { a: ha, b: hb } = net.hosts;
    // Everything A and B see, from before anything is registered.
    const [allA, allB] = [watch(a), watch(b)];
    const recM = watch(m);
    await Promise.all([allA.watcher.synced, allB.watcher.synced, recM.watcher.synced]);
    await Promise.all([
      registerWithin(a, { name: 'only-a', nodes: [{ id: 'only-a-1', address: `${ha.address}:9100` }] }),
      registerWithin(b, { name: 'only-b', nodes: [{ id: 'only-b-1', address: `${hb.address}:9200` }] }),
      // The control: a node of M's that both must see through the same watchers.
      registerWithin(m, { name: 'from-m-too', nodes: [{ id: 'from-m-too-1', address: '0.0.0.0:9300' }] }),
    ]);
    await recM.until((r) => r.nodeIds('only-a').length === 1 && r.nodeIds('only-b').length === 1, FOUND_MS, 'M to hold both');
    await Promise.all([
      allA.until((r) => r.nodeIds('from-m-too').length === 1, FOUND_MS, 'A to see M (control)'),
      allB.until((r) => r.nodeIds('from-m-too').length === 1, FOUND_MS, 'B to see M (control)'),
    ]);
    // Now A asks for B's service and B for A's while M has the answers cached: nobody on their link may answer.
    const [askA, askB] = [watch(a, 'only-b'), watch(b, 'only-a')];
    const lookups = await Promise.allSettled([a.getService('only-b', { timeout: 1500 }), b.getService('only-a', { timeout: 1500 })]);
    for (const [who, result] of [
      ['A looking up only-b', lookups[0]],
      ['B looking up only-a', lookups[1]],
    ] as const) {
      if (result?.status === 'fulfilled') assert.equal(result.value.length, 0, `${who} found ${JSON.stringify(result.value)}`);
      else assert.ok(isRollcallError(result?.reason, 'NOT_FOUND'), `${who}: ${String(result?.reason)}`);
    }
    // Continuous queries go on at 1 s, 2 s, … : give them several rounds.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(askA.nodeIds('only-b'), [], 'A must not see B’s node');
    assert.deepEqual(askB.nodeIds('only-a'), [], 'B must not see A’s node');
    assert.deepEqual(allA.nodeIds('only-b'), [], 'nothing of B’s ever reached A');
    assert.deepEqual(allB.nodeIds('only-a'), [], 'nothing of A’s ever reached B');
    const everSeen = (rec: Recorder, name: string) =>
      rec.events.some((e) => (e.type === 'resync' ? e.services.some((s) => s.name === name) : e.service.name === name));
    assert.ok(!everSeen(allA, 'only-b') && !everSeen(askA, 'only-b'), 'A never had an event for only-b');
    assert.ok(!everSeen(allB, 'only-a') && !everSeen(askB, 'only-a'), 'B never had an event for only-a');
    // Nor did anything of LAN 2 leak to LAN 1 by another name: the only services A sees are its own and M's.
    const namesOnA = [...allA.state.values()].map((s) => s.name);
    assert.ok(!namesOnA.includes('on-b'), `A sees ${namesOnA.join(', ')}`);
    const namesOnB = [...allB.state.values()].map((s) => s.name);
    assert.ok(!namesOnB.includes('on-a'), `B sees ${namesOnB.join(', ')}`);
  });

  it('one interface down: B drops M’s node after its TTL while A keeps it; back up, B finds it again', { timeout: TEST_MS }, async () => {
    const { eth0, eth1 } = net.cards;
    const [recA, recB] = [watch(a, 'dual'), watch(b, 'dual')];
    await Promise.all([recA.watcher.synced, recB.watcher.synced]);
    await registerWithin(m, { name: 'dual', nodes: [{ id: 'dual-1', address: '0.0.0.0:7100' }] }, { ttl: TTL });
    await Promise.all([
      recA.until((r) => r.nodeIds('dual').length === 1, FOUND_MS, 'A to find dual'),
      recB.until((r) => r.nodeIds('dual').length === 1, FOUND_MS, 'B to find dual'),
    ]);
    const seenFrom = recA.events.length - 1;

    const cutAt = Date.now();
    await eth1.linkDown('admin');
    await eventually(async () => (await m.remoteStats()).interfaces === 'eth0', 3000, 'M to notice eth1 went down');
    await recB.until((r) => r.nodeIds('dual').length === 0, TTL + 3000, 'B to drop dual after its TTL');
    const gone = Date.now() - cutAt;
    // Announced every TTL/3: the last one B heard left at least 2/3 of the TTL to run.
    assert.ok(gone >= (TTL * 2) / 3 - 100, `B dropped dual only when its TTL ran out (${gone} ms)`);
    assert.deepEqual(recA.nodeIds('dual'), ['dual-1'], 'A still sees dual while eth1 is down');
    assert.deepEqual(addressesOf(recA, 'dual'), [`${eth0.address}:7100`]);

    const probesBefore = Number((await m.remoteStats()).probesSent);
    const healAt = Date.now();
    await eth1.linkUp();
    await recB.until((r) => r.nodeIds('dual').length === 1, FOUND_MS, 'B to find dual again after eth1 came back');
    const back = Date.now() - healAt;
    assert.ok(back < 5000, `found again soon after eth1 came back (${back} ms)`);
    assert.deepEqual(addressesOf(recB, 'dual'), [`${eth1.address}:7100`]);
    const healed = await m.remoteStats();
    assert.equal(healed.interfaces, 'eth0,eth1');
    // RFC 6762 §8.3: an interface coming up means probing and announcing again (the 1 s heartbeat
    // alone would also have brought B back, so the probes are what shows M noticed).
    assert.ok(Number(healed.probesSent) > probesBefore, `M probed again when eth1 came back (${probesBefore} -> ${healed.probesSent})`);
    // M probed and announced again on both links when eth1 returned; A never lost the node meanwhile.
    assert.ok(presentThroughout(recA.events, 'dual', 'dual-1', seenFrom), 'A never lost dual, through the cut and the heal');
    assert.deepEqual(addressesOf(recA, 'dual'), [`${eth0.address}:7100`]);
  });
});

/**
 * The other multi-homed case: two interfaces on the SAME link (a laptop on Ethernet and Wi-Fi of
 * one LAN, a server with two NICs on one switch). Each copy of a packet M sends comes back to it on
 * both interfaces, and both interfaces' subnets match every source on the link.
 */
describe('mdns: a host with two interfaces on one link', { timeout: 60_000, skip }, () => {
  let lan: Lan<'m' | 'peer'>;
  let second: HostInterface;
  let m: RemoteRegistry;
  let peer: RemoteRegistry;

  before(
    async () => {
      lan = await createLan({ hosts: ['m', 'peer'], subnet: 233, ipv6: false });
      second = await attachInterface(lan.hosts.m, lan, { ifname: 'eth1', address: '169.254.233.100' });
      [m, peer] = (await spawnOn([lan.hosts.m, lan.hosts.peer])) as [RemoteRegistry, RemoteRegistry];
    },
    { timeout: 60_000 },
  );

  after(async () => {
    await Promise.allSettled([m, peer].map((r) => r?.kill()));
    await lan?.destroy();
  });

  it('a node with an explicit address is established and found; M runs on both interfaces', { timeout: TEST_MS }, async () => {
    assert.equal((await m.remoteStats()).interfaces, 'eth0,eth1');
    await registerWithin(m, { name: 'same-link', nodes: [{ id: 'same-link-1', address: `${lan.hosts.m.address}:8000` }] });
    const [service] = await peer.getService('same-link', { timeout: 3000 });
    assert.equal(service?.nodes[0]?.address, `${lan.hosts.m.address}:8000`);
  });

  // Once a bug: M's eth1 probe looped back was credited to eth0 (same subnet) and M lost the
  // RFC 6762 §8.2 tie-break against itself forever, so register() never resolved.
  it('a wildcard node is established and found with one of M’s addresses on the link', { timeout: TEST_MS }, async () => {
    await registerWithin(m, { name: 'same-link-wild', nodes: [{ id: 'same-link-wild-1', address: '0.0.0.0:8001' }] });
    const [service] = await peer.getService('same-link-wild', { timeout: 3000 });
    const mine = [`${lan.hosts.m.address}:8001`, `${second.address}:8001`];
    assert.ok(mine.includes(service?.nodes[0]?.address ?? ''), `seen at ${service?.nodes[0]?.address}, not one of ${mine.join(', ')}`);
    assert.equal((await m.remoteStats()).tieBreaksLost, 0, 'M never lost a tie-break against itself');
  });
});
