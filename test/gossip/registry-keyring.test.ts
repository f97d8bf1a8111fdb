/**
 * A rolling key rotation on a running cluster of three registry processes (`local` preset), as
 * an operator does it: install the new key B everywhere, make it the primary one member at a
 * time, remove the old key A everywhere. After every single step a fresh registration on one
 * member reaches the other two, no member is ever lost, and no watch ever sees a delete. Then a
 * member holding only A learns nothing, one holding only B joins and learns everything.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { retransmitLimit } from '../../src/adapters/gossip/swim/timing.js';
import { isRollcallError } from '../../src/index.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { aliveNames, type Recording, record, sleep, startCluster, until } from './process-cluster.js';

const N = 3;
const config = local;
const SERVICE = 'rotating';
/** Fresh keys per run: A of 16 bytes, B of 32 (AES-128 and AES-256 side by side on the wire). */
const keyA = randomBytes(16).toString('base64');
const keyB = randomBytes(32).toString('base64');
const name = (i: number) => `k-${process.pid}-${i}`;
const bind = (i: number) => `127.0.4.${i + 1}`;
/**
 * A registration goes straight to every live member in one packet; were that packet lost, the
 * gossip queue sends it again for `retransmitLimit` rounds of `gossipInterval` (the registry sends
 * updates at least 4 × as memberlist does). One probe interval on top for a loaded machine.
 */
const SPREAD_BOUND = retransmitLimit(Math.max(4, config.retransmitMult), N) * config.gossipInterval + config.probeInterval;
/**
 * A joiner's push/pull dial waits `tcpTimeout` for an answer the seed cannot decrypt; a few probe
 * rounds after it, a member that got in would be alive everywhere.
 */
const JOIN_WINDOW = 2 * config.tcpTimeout + 3 * config.probeInterval;

const started: RemoteRegistry[] = [];
after(async () => {
  for (const m of started) await m.close().catch(() => {});
});

describe('gossip registry processes: rolling key rotation', { concurrency: 1 }, () => {
  let members: RemoteRegistry[] = [];
  let watches: Recording[] = [];
  let registered = 0;
  const spreads: number[] = [];

  /** Registers a new node on member `i % N`; every other member's watch and getService must show it. */
  async function registrationFlows(step: string): Promise<void> {
    const origin = registered % N;
    const id = `n${registered++}`;
    const at = Date.now();
    await members[origin]?.register({ name: SERVICE, nodes: [{ id, address: `10.0.4.${registered}:80` }] });
    const others = [...members.keys()].filter((i) => i !== origin);
    await until(`${step}: ${id} from member ${origin} in every other watch`, SPREAD_BOUND, () =>
      others.every((i) => watches[i]?.firstAt(`add:${id}`) !== undefined),
    );
    spreads.push(Math.max(...others.map((i) => (watches[i]?.firstAt(`add:${id}`) ?? 0) - at)));
    for (const i of others) {
      const nodes = (await members[i]?.getService(SERVICE))?.flatMap((s) => s.nodes.map((n) => n.id)) ?? [];
      assert.equal(nodes.length, registered, `${step}: member ${i} holds every node registered so far`);
      assert.ok(nodes.includes(id), `${step}: member ${i} getService shows ${id}`);
    }
    for (const [i, m] of members.entries()) assert.equal((await aliveNames(m)).length, N, `${step}: member ${i} lists ${N} alive`);
    for (const [i, w] of watches.entries()) {
      const removes = w.events.filter((e) => e.what.startsWith('remove:')).map((e) => e.what);
      assert.deepEqual(removes, [], `${step}: member ${i}'s watch saw no delete`);
    }
  }

  it('three members on key A form one cluster and share a registration', async () => {
    const options = [0, 1, 2].map((i) => ({ bind: bind(i), name: name(i) }));
    members = await startCluster({ port: 0, preset: 'local', keyring: [keyA] }, options, started);
    await until('every member lists three alive', 20_000, async () =>
      (await Promise.all(members.map(aliveNames))).every((names) => names.length === N),
    );
    watches = members.map((m) => record(m, SERVICE));
    await registrationFlows('on key A');
  });

  it('install B on each member in turn: the cluster still talks on A', async () => {
    for (const [i, m] of members.entries()) {
      await m.keyring('install', keyB);
      assert.deepEqual(await m.keyring('list'), [keyA, keyB], `member ${i}: A still primary, B installed`);
      await registrationFlows(`B installed on member ${i}`);
    }
  });

  it('use B on each member in turn: members on A and on B understand each other', async () => {
    for (const [i, m] of members.entries()) {
      await m.keyring('use', keyB);
      assert.deepEqual(await m.keyring('list'), [keyB, keyA], `member ${i}: B primary, A kept`);
      await registrationFlows(`B primary on member ${i}`);
    }
  });

  it('remove A on each member in turn: the cluster stays whole on B alone', async () => {
    for (const [i, m] of members.entries()) {
      await m.keyring('remove', keyA);
      assert.deepEqual(await m.keyring('list'), [keyB], `member ${i}: only B left`);
      await registrationFlows(`A removed on member ${i}`);
    }
    process.stderr.write(`# spread per step (slowest receiver): ${spreads.join(', ')} ms (bound ${SPREAD_BOUND} ms)\n`);
  });

  it('keyring errors are typed: removing the primary, a bad key length, using a key not installed', async () => {
    const m = members[0] as RemoteRegistry;
    await assert.rejects(m.keyring('remove', keyB), (e) => isRollcallError(e, 'INVALID_OPTIONS') && /primary/.test(String(e)));
    await assert.rejects(
      m.keyring('install', randomBytes(20).toString('base64')),
      (e) => isRollcallError(e, 'INVALID_OPTIONS') && /20/.test(String(e)),
    );
    await assert.rejects(m.keyring('use', keyA), (e) => isRollcallError(e, 'INVALID_OPTIONS') && /not installed/.test(String(e)));
    assert.deepEqual(await m.keyring('list'), [keyB], 'a refused change left the keyring as it was');
  });

  it('a member with only the retired key A learns nothing; one with B joins and learns every node', async () => {
    const seed = String((await (members[0] as RemoteRegistry).remoteStats()).address);
    const stale = await spawnRegistry({
      options: { kind: 'gossip', bind: bind(3), port: 0, preset: 'local', name: name(3), keyring: [keyA], address: seed },
    });
    started.push(stale);
    await sleep(JOIN_WINDOW);
    assert.equal(Number((await stale.remoteStats()).liveMembers), 0, 'the member on A reached nobody');
    await assert.rejects(stale.getService(SERVICE), (e) => isRollcallError(e, 'NOT_FOUND'));
    for (const [i, m] of members.entries())
      assert.ok(!(await aliveNames(m)).includes(name(3)), `member ${i} does not list the member on A`);

    const fresh = await spawnRegistry({
      options: { kind: 'gossip', bind: bind(4), port: 0, preset: 'local', name: name(4), keyring: [keyB], address: seed },
    });
    started.push(fresh);
    // Its alive message is retransmitted only twice on the local preset and all copies can miss one
    // member; that member learns of it at its next push/pull. So the join may take one more interval.
    const joinBound = JOIN_WINDOW + config.pushPullInterval;
    const joined = await until('the member on B is alive everywhere and holds every node', joinBound, async () => {
      const views = await Promise.all(members.map(aliveNames));
      const nodes = (await fresh.getService(SERVICE).catch(() => [])).flatMap((s) => s.nodes);
      return views.every((v) => v.includes(name(4))) && nodes.length === registered;
    });
    assert.deepEqual(await aliveNames(fresh), [...members.keys()].map(name).concat(name(4)).sort());
    process.stderr.write(`# member on B joined and learned ${registered} nodes in ${joined} ms (bound ${joinBound} ms)\n`);
    for (const w of watches) w.stop();
  });
});
