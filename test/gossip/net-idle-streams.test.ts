/**
 * 1,000 idle TCP connections against a gossip node's port, opened by another process so that
 * only the node's own cost is measured here, compared with the same workload un-attacked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Memberlist } from '../../src/adapters/gossip/memberlist.js';
import { systemClock } from '../../src/internal/clock.js';
import { bindNetTransport } from '../../src/internal/transport-net.js';
import { stopChild, waitForLine } from '../peers/process.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const IDLE_STREAMS = 1000;
const ROUNDS = 20;

async function node(name: string, host: string): Promise<Memberlist> {
  const transport = await bindNetTransport({ host, port: 0, clock: systemClock });
  return new Memberlist({
    transport,
    clock: systemClock,
    layers: { label: new Uint8Array(0), compression: false },
    name,
    streamTimeout: 10_000,
  });
}

/** Heap and native memory after a full collection. */
function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** The workload both phases run: push/pulls and pings between two real members. */
async function workload(a: Memberlist, b: Memberlist): Promise<{ cpuMs: number; memoryDelta: number }> {
  const before = memory();
  const cpu = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) {
    assert.equal(await b.join([a.address]), 1, `push/pull ${i} failed`);
    assert.equal(await b.ping(a.address, 'victim', 1000), true, `ping ${i} unanswered`);
  }
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, memoryDelta: memory() - before };
}

// The attacker: connects, sends nothing, keeps every socket open until told to stop.
const attacker = `
const net = require('node:net');
const [host, port, count] = process.argv.slice(1);
let open = 0, closed = 0;
for (let i = 0; i < Number(count); i++) {
  const s = net.connect({ host, port: Number(port) }, () => { if (++open === Number(count)) console.log('connected ' + open); });
  s.on('error', () => {});
  s.on('close', () => { closed++; });
}
setInterval(() => console.log('closed ' + closed), 200);
`;

describe('gossip net under idle streams', () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it(`${IDLE_STREAMS} idle TCP streams: bounded memory and CPU against an un-attacked baseline, members still known`, async () => {
    const victim = await node('victim', '127.0.0.1');
    const friend = await node('friend', '127.0.0.2');
    cleanup.push(
      () => victim.close(),
      () => friend.close(),
    );

    await workload(victim, friend); // warm up code paths and buffers before measuring
    const baseline = await workload(victim, friend);

    const child = spawn(process.execPath, ['-e', attacker, '127.0.0.1', String(victim.address.port), String(IDLE_STREAMS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.push(() => stopChild(child));
    await waitForLine(child.stdout, /^connected 1000$/, 20_000, 'attacker connected');
    const attacked = await workload(victim, friend);
    const openDuringAttack = victim.net.openStreams;

    const stats = victim.net.stats;
    console.log(
      `baseline ${baseline.cpuMs.toFixed(0)} ms CPU, ${(baseline.memoryDelta / 1024).toFixed(0)} KiB; ` +
        `attacked ${attacked.cpuMs.toFixed(0)} ms CPU, ${(attacked.memoryDelta / 1024).toFixed(0)} KiB; ` +
        `streams open ${openDuringAttack}, evicted ${stats.dropped.evicted}`,
    );
    // Idle streams past the pending limit are cut, so at most 256 are held at any time.
    assert.ok(openDuringAttack <= 256 + 2, `streams held open: ${openDuringAttack}`);
    assert.ok(stats.dropped.evicted >= IDLE_STREAMS - 256, `evicted ${stats.dropped.evicted}`);
    // Accepting and cutting 1,000 connections costs some CPU once; it must stay within a small
    // multiple of the baseline workload, and memory within a bounded amount per held stream.
    assert.ok(attacked.cpuMs <= 4 * baseline.cpuMs + 250, `CPU ${attacked.cpuMs} ms vs baseline ${baseline.cpuMs} ms`);
    assert.ok(attacked.memoryDelta - baseline.memoryDelta < 256 * 8 * 1024, `memory +${attacked.memoryDelta} vs +${baseline.memoryDelta}`);
    // The real member stays known on both sides and still answers.
    assert.deepEqual(
      victim.members().map((n) => n.name),
      ['friend'],
    );
    assert.deepEqual(
      friend.members().map((n) => n.name),
      ['victim'],
    );
    assert.equal(await victim.pingStream(friend.address, 'friend', 2000), true);
  });
});
