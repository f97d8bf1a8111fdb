/**
 * Event-loop stalls on real sockets at memberlist's LAN defaults: one rollcall node's event loop
 * is blocked for 2.5 s every 10 s for 2 minutes, in a cluster of 3 Go memberlist peers and 2
 * rollcall nodes. A stall is shorter than the shortest suspicion (SuspicionMult x ProbeInterval =
 * 4 s), so Lifeguard's refutation must win every time: no member is ever declared dead, read from
 * every member's own events and the Go peers' member lists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lan } from '../../src/adapters/gossip/swim/config.js';
import { type GoMemberlist, goMemberlistSkip, startGoMemberlist } from '../peers/go-memberlist.js';
import { type SwimNodeProcess, startSwimNode } from '../peers/swim-node.js';

const skip = goMemberlistSkip();
const STALL_MS = 2_500;
const STALL_EVERY = 10_000;
const RUN_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let gos: GoMemberlist[] = [];
let ours: SwimNodeProcess[] = [];
const everyone = () => [...gos, ...ours];

async function names(of: GoMemberlist | SwimNodeProcess): Promise<string[]> {
  if ('call' in of) return ((await of.call({ cmd: 'members' })).members as Array<{ name: string }>).map((m) => m.name).sort();
  return (await of.members())
    .filter((m) => m.state <= 1)
    .map((m) => m.name)
    .sort();
}

describe('event-loop stalls at LAN defaults (real sockets)', { skip }, () => {
  before(async () => {
    assert.ok(STALL_MS < lan.suspicionMult * lan.probeInterval, 'a stall shorter than the shortest suspicion');
    const g1 = await startGoMemberlist({ name: 'go-1', bind: '127.0.0.71', config: 'lan' });
    gos = [g1];
    gos.push(await startGoMemberlist({ name: 'go-2', bind: '127.0.0.72', config: 'lan', join: [g1.address] }));
    gos.push(await startGoMemberlist({ name: 'go-3', bind: '127.0.0.73', config: 'lan', join: [g1.address] }));
    ours = [
      await startSwimNode({ name: 'rc-1', bind: '127.0.0.74', config: 'lan', join: [g1.address] }),
      await startSwimNode({
        name: 'rc-stall',
        bind: '127.0.0.75',
        config: 'lan',
        join: [g1.address],
        stallMs: STALL_MS,
        stallEvery: STALL_EVERY,
      }),
    ];
    const all = everyone()
      .map((p) => p.name)
      .sort();
    const start = Date.now();
    while (Date.now() - start < 20_000) {
      const views = await Promise.all(everyone().map(names));
      if (views.every((v) => JSON.stringify(v) === JSON.stringify(all))) return;
      await sleep(200);
    }
    throw new Error('cluster did not form');
  });
  after(async () => {
    for (const p of everyone()) await p.stop().catch(() => {});
  });

  it('2.5 s stalls every 10 s for 2 minutes: nobody is declared dead', async () => {
    const all = everyone()
      .map((p) => p.name)
      .sort();
    const start = Date.now();
    const missing: string[] = [];
    while (Date.now() - start < RUN_MS) {
      await sleep(1_000);
      // Go lists every member that is alive or suspect; dead ones disappear from its list.
      for (const g of gos) {
        const v = await names(g);
        if (JSON.stringify(v) !== JSON.stringify(all)) missing.push(`${g.name} at ${Date.now() - start} ms: ${v.join(',')}`);
      }
    }
    const stalls = ours[1]!.events.filter((l) => l.event === 'stalled').length;
    assert.ok(stalls >= Math.floor(RUN_MS / STALL_EVERY) - 1, `the node stalled ${stalls} times`);
    const deaths = everyone().flatMap((p) =>
      p.events.filter((l) => l.event === 'leave').map((l) => `${p.name}: ${JSON.stringify(l.node)}`),
    );
    assert.deepEqual(deaths, [], 'no leave (dead) event anywhere');
    assert.deepEqual(missing, [], 'every Go peer listed all 5 members every second');
    const refutes = (await ours[1]!.request({ cmd: 'stats' })).stats as { refutations: number };
    process.stderr.write(`# ${stalls} stalls, rc-stall refuted ${refutes.refutations} times\n`);
    for (const p of everyone()) assert.deepEqual(await names(p), all, `${p.name} sees everyone at the end`);
  });
});
