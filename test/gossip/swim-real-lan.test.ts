/**
 * Five rollcall nodes, each a process in its own network namespace on a private bridge LAN
 * (test/peers/lan.ts). 30 % UDP loss on one node's link at LAN defaults: nobody is declared dead.
 * A 3/2 partition (nftables drops between the sides) held longer than suspicion max plus
 * GossipToTheDeadTime, so each side declares the other dead and reaps it, then healed: one view
 * again within a bound from the reconnect interval.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { local, type SwimConfig } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { createLan, type Lan, lanAvailable } from '../peers/lan.js';
import { type SwimNodeProcess, startSwimNode } from '../peers/swim-node.js';

const need = lanAvailable(['nft']);
if (!need.ok && process.env.CI === 'true') throw new Error(`LAN prerequisites missing: ${need.reason} (CI=true: this must not be skipped)`);
if (!need.ok) process.stderr.write(`\n*** SKIPPED: LAN prerequisites missing: ${need.reason} ***\n\n`);
const skip = need.ok ? false : need.reason;

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5'] as const;
const PORT = 7946;
const repoRoot = new URL('../..', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let net: Lan<(typeof HOSTS)[number]> | undefined;
let nodes: SwimNodeProcess[] = [];
after(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  await net?.destroy();
});

async function cluster(config: 'lan' | 'local'): Promise<SwimNodeProcess[]> {
  for (const n of nodes) await n.stop().catch(() => {});
  await net?.destroy();
  net = await createLan({ hosts: HOSTS, subnet: 233, ipv6: false });
  const lanNet = net;
  const seed = `${lanNet.hosts.h1.address}:${PORT}`;
  nodes = [];
  for (const h of HOSTS) {
    const host = lanNet.hosts[h];
    nodes.push(
      await startSwimNode({
        name: `rc-${h}`,
        bind: host.address,
        port: PORT,
        config,
        join: h === 'h1' ? [] : [seed],
        spawn: (cmd, args, opts) => host.exec(cmd, args, { ...opts, cwd: repoRoot }),
      }),
    );
  }
  await until(
    nodes,
    nodes.map((n) => n.name),
    20_000,
    'cluster formed',
  );
  return nodes;
}

/** Names each node counts alive or suspect. */
async function views(who: SwimNodeProcess[]): Promise<string[][]> {
  return Promise.all(
    who.map(async (n) =>
      (await n.members())
        .filter((m) => m.state <= 1)
        .map((m) => m.name)
        .sort(),
    ),
  );
}

async function until(who: SwimNodeProcess[], expect: string[], ms: number, what: string): Promise<number> {
  const want = JSON.stringify([...expect].sort());
  const start = Date.now();
  let last: string[][] = [];
  while (Date.now() - start < ms) {
    last = await views(who);
    if (last.every((v) => JSON.stringify(v) === want)) return Date.now() - start;
    await sleep(250);
  }
  throw new Error(`not within ${ms} ms: ${what}\n${last.map((v, i) => `${who[i]?.name}: ${v.join(',')}`).join('\n')}`);
}

const leaves = (who: SwimNodeProcess[]) =>
  who.flatMap((p) => p.events.filter((l) => l.event === 'leave').map((l) => `${p.name}: ${JSON.stringify(l.node)}`));

describe('SWIM nodes in namespaces', { skip, concurrency: 1 }, () => {
  it('30 % UDP loss on one node at LAN defaults for 60 s: no false dead', async () => {
    const all = await cluster('lan');
    await net!.hosts.h5.addUdpLoss(30, { direction: 'both' });
    await sleep(60_000);
    assert.deepEqual(leaves(all), [], 'no member declared dead');
    await until(
      all,
      all.map((n) => n.name),
      1_000,
      'everyone alive everywhere',
    );
  });

  it('3/2 partition past suspicion max + GossipToTheDeadTime, healed: one view again within the bound', async () => {
    const config: SwimConfig = local;
    const all = await cluster('local');
    const [a, b] = [all.slice(0, 3), all.slice(3)];
    const lanNet = net!;
    const sideB = [lanNet.hosts.h4, lanNet.hosts.h5];
    const sideA = [lanNet.hosts.h1, lanNet.hosts.h2, lanNet.hosts.h3];
    // Drop everything between the sides, both ways, on the two hosts of side B.
    for (const h of sideB) {
      const set = sideA.map((x) => x.address).join(', ');
      const r = await h.run('nft', ['-f', '-'], {
        input: [
          'table inet part {',
          `  chain in { type filter hook input priority 0; policy accept; ip saddr { ${set} } drop; }`,
          `  chain out { type filter hook output priority 0; policy accept; ip daddr { ${set} } drop; }`,
          '}',
          '',
        ].join('\n'),
      });
      assert.equal(r.code, 0, r.stderr);
    }
    const suspicionMax = config.suspicionMaxTimeoutMult * suspicionTimeout(config.suspicionMult, all.length, config.probeInterval);
    const hold = (2 * all.length + 1) * config.probeInterval + suspicionMax + config.gossipToTheDeadTime + 5_000;
    await until(
      a,
      a.map((n) => n.name),
      hold,
      'side A sees only itself',
    );
    await until(
      b,
      b.map((n) => n.name),
      hold,
      'side B sees only itself',
    );
    await sleep(config.gossipToTheDeadTime + 2 * config.probeInterval * all.length);
    // Reaped: the other side is gone from the tables, not merely dead.
    for (const n of a) assert.ok(!(await n.members()).some((m) => m.name === 'rc-h4'), `${n.name} reaped rc-h4`);
    for (const h of sideB) assert.equal((await h.run('nft', ['delete', 'table', 'inet', 'part'])).code, 0);
    // Healing needs one reconnect round (a random failed member each) to land on the other side.
    const bound = 3 * config.reconnectInterval + config.tcpTimeout + 10 * config.gossipInterval;
    const took = await until(
      all,
      all.map((n) => n.name),
      bound,
      `one view after healing (bound ${bound} ms)`,
    );
    process.stderr.write(`# one view ${took} ms after healing (bound ${bound} ms)\n`);
  });
});
