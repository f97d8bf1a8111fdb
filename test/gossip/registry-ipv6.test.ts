/**
 * Three registry processes bound to the IPv6 loopback `::1` (each on its own port) form one
 * cluster: a registration, a lookup, a watch and a deregistration cross it, and `members()` lists
 * every member at its bracketed IPv6 address. Without `::1` the suite is skipped loudly, and under
 * CI=true it fails.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { retransmitLimit } from '../../src/adapters/gossip/swim/timing.js';
import type { Registration } from '../../src/index.js';
import type { RemoteRegistry } from '../harness/remote.js';
import { peerSkip } from '../peers/peer-process.js';
import { aliveNames, type Recording, record, startCluster, until } from './process-cluster.js';

const N = 3;
const config = local;
const SERVICE = 'v6-greeter';
/**
 * A change goes straight to every live member in one packet; were it lost, the gossip queue sends
 * it again for `retransmitLimit` rounds of `gossipInterval` (at least 4 × as memberlist does). One
 * probe interval on top for a loaded machine.
 */
const SPREAD_BOUND = retransmitLimit(Math.max(4, config.retransmitMult), N) * config.gossipInterval + config.probeInterval;

/** Why `::1` cannot be used here, or undefined: a UDP socket must bind it (a host may run with IPv6 off). */
async function loopbackV6Missing(): Promise<string | undefined> {
  const socket = createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '::1', () => resolve());
    });
    return undefined;
  } catch (error) {
    return `cannot bind ::1 (${(error as Error).message})`;
  } finally {
    socket.close();
  }
}

const skip = peerSkip('IPv6 loopback', await loopbackV6Missing());
const started: RemoteRegistry[] = [];
after(async () => {
  for (const m of started) await m.close().catch(() => {});
});

describe('gossip registry processes on ::1', { concurrency: 1, skip }, () => {
  let members: RemoteRegistry[] = [];
  let watches: Recording[] = [];
  let first: Registration | undefined;

  it('three members bound to ::1 form one cluster; members() lists each at [::1]:port', async () => {
    const names = [0, 1, 2].map((i) => `v6-${process.pid}-${i}`);
    members = await startCluster(
      { port: 0, preset: 'local', bind: '::1' },
      names.map((name) => ({ name })),
      started,
    );
    await until('every member lists three alive', 20_000, async () =>
      (await Promise.all(members.map(aliveNames))).every((list) => list.length === N),
    );
    const own = await Promise.all(members.map(async (m) => String((await m.remoteStats()).address)));
    for (const address of own) assert.match(address, /^\[::1\]:\d+$/);
    assert.equal(new Set(own).size, N, 'three distinct ports');
    for (const [i, m] of members.entries()) {
      const listed = (await m.members()).map((x) => [x.name, x.address]).sort();
      assert.deepEqual(listed, names.map((n, j) => [n, own[j]]).sort(), `member ${i} lists every member at its ::1 address`);
    }
  });

  it('a registration on one member is seen by the others: watch and getService, the node address in brackets', async () => {
    watches = members.map((m) => record(m, SERVICE));
    first = await members[0]?.register({ name: SERVICE, version: '1.0.0', nodes: [{ id: 'g0', address: '[::1]:8080' }] });
    const took = await until('g0 in the watches of members 1 and 2', SPREAD_BOUND, () =>
      [1, 2].every((i) => watches[i]?.firstAt('add:g0') !== undefined),
    );
    for (const i of [1, 2]) {
      const [service] = (await members[i]?.getService(SERVICE)) ?? [];
      assert.equal(service?.version, '1.0.0');
      assert.deepEqual(
        service?.nodes.map((n) => [n.id, n.address]),
        [['g0', '[::1]:8080']],
        `member ${i}`,
      );
    }
    await members[1]?.register({ name: SERVICE, version: '1.0.0', nodes: [{ id: 'g1', address: '[::1]:8081' }] });
    await until('g1 in the watches of members 0 and 2', SPREAD_BOUND, () =>
      [0, 2].every((i) => watches[i]?.firstAt('add:g1') !== undefined),
    );
    const atTwo = (await members[2]?.getService(SERVICE))?.flatMap((s) => s.nodes.map((n) => n.id)).sort();
    assert.deepEqual(atTwo, ['g0', 'g1']);
    process.stderr.write(`# g0 seen by both other members in ${took} ms (bound ${SPREAD_BOUND} ms)\n`);
  });

  it('a deregistration on one member removes the node everywhere, the other node stays', async () => {
    const at = Date.now();
    await first?.deregister();
    await until('g0 removed in the watches of members 1 and 2', SPREAD_BOUND, () =>
      [1, 2].every((i) => watches[i]?.firstAt('remove:g0') !== undefined),
    );
    const took = Math.max(...[1, 2].map((i) => (watches[i]?.firstAt('remove:g0') ?? 0) - at));
    for (const i of [0, 1, 2]) {
      const nodes = (await members[i]?.getService(SERVICE))?.flatMap((s) => s.nodes.map((n) => n.id));
      assert.deepEqual(nodes, ['g1'], `member ${i} holds only g1`);
    }
    for (const [i, w] of watches.entries()) assert.equal(w.firstAt('remove:g1'), undefined, `member ${i}: g1 never removed`);
    process.stderr.write(`# g0 removed from both other members in ${took} ms (bound ${SPREAD_BOUND} ms)\n`);
    for (const w of watches) w.stop();
  });
});
