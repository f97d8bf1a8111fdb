/**
 * Failure detection. On real sockets: SIGKILL one member of an N-node cluster (N = 8 and 16) and
 * time until every survivor lists it dead, rollcall SWIM nodes side by side with serf agents at
 * the same settings (both on memberlist's local profile), with the ratio; then idle CPU and RSS per
 * node of each. On the in-memory network with the simulated clock: N = 100 and 1,000 at LAN
 * defaults, time until every member knows against memberlist's bound, and messages per member per
 * second (SWIM's promise: neither grows with N). Sizes: DETECTION_SIZES (default 8,16),
 * DETECTION_SIM_SIZES (default 100,1000; the 1,000-node simulation takes about five minutes here),
 * DETECTION_TRIALS (default 10). Every membership poll also counts false positives: a
 * survivor that lists another survivor dead (serf: failed). Nodes run as compiled JavaScript under
 * plain `node`, as deployed, and their idle RSS is compared with a bare Node process's.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lan } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { simCluster } from '../../test/gossip/swim-sim.js';
import { type SerfAgent, startSerf } from '../../test/peers/serf.js';
import { type SwimNodeProcess, startSwimNode } from '../../test/peers/swim-node.js';
import { compileEntry } from '../compile.js';
import { median } from '../lib.js';

const TRIALS = Number(process.env.DETECTION_TRIALS ?? 10);
/**
 * /proc counts CPU in 10 ms ticks: an idle node uses about 0.5 % of a core, 5 ticks in 10 s, too
 * coarse to compare two systems; 30 s gives 15 ticks a node and the mean over all nodes.
 */
const IDLE_WINDOW_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await sleep(100);
  }
  return Number.NaN;
}

/** CPU ms and RSS of a process over `ms`, from /proc (Linux). */
async function idleCost(pids: number[], ms: number): Promise<IdleCost> {
  const ticks = (pid: number) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  /** The memory lines of /proc/<pid>/status (kB), read once per process. */
  const memory = (pid: number) => {
    const kb = (field: string, text: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: kb('VmRSS', text), anon: kb('RssAnon', text), file: kb('RssFile', text) };
  };
  const before = pids.map(ticks);
  await sleep(ms);
  const after = pids.map(ticks);
  const cpu = after.reduce((s, t, i) => s + t - (before[i] as number), 0) / pids.length;
  const mem = pids.map(memory);
  const meanMiB = (key: 'rss' | 'anon' | 'file') => mem.reduce((s, m) => s + m[key], 0) / mem.length / 1024;
  return { cpuPercent: (cpu * 10 * 100) / ms, rssMiB: meanMiB('rss'), anonMiB: meanMiB('anon'), fileMiB: meanMiB('file') };
}

/**
 * RSS splits into private memory (RssAnon: the JS heap, buffers, compiled code) and pages mapped
 * from files (RssFile: mostly the node executable's own code, shared by every node process on the
 * host). Running hot JS at all pages in V8's optimizing compilers, which an idle `node -e` never
 * touches: the split says which part a change of ours could move.
 */
interface IdleCost {
  cpuPercent: number;
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
}

interface Trials {
  times: number[];
  idle: IdleCost;
  /** (observer, member) pairs where a survivor listed another survivor dead. */
  falseDead: Set<string>;
}

async function rollcallTrials(n: number, script: string): Promise<Trials> {
  const nodes: SwimNodeProcess[] = [];
  const host = (i: number) => `127.0.1.${10 + i}`;
  const falseDead = new Set<string>();
  let victimName = '';
  const poll = async () => {
    const lists = await Promise.all(nodes.map((x) => x.members()));
    lists.forEach((list, i) => {
      for (const r of list) if (r.name !== victimName && r.state >= NodeState.dead) falseDead.add(`${nodes[i]!.name}->${r.name}`);
    });
    return lists;
  };
  try {
    for (let i = 0; i < n; i++)
      nodes.push(await startSwimNode({ name: `rc-${i}`, bind: host(i), join: i ? [nodes[0]!.address] : [], script }));
    const aliveEverywhere = async () => (await poll()).every((m) => m.filter((r) => r.state === NodeState.alive).length === n);
    await waitUntil(aliveEverywhere, 30_000);
    const idle = await idleCost(
      nodes.map((x) => x.child.pid!),
      IDLE_WINDOW_MS,
    );
    const times: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const victim = nodes[n - 1]!;
      const { name, host: h, port } = victim;
      victimName = name;
      victim.signal('SIGKILL');
      const survivors = nodes.slice(0, -1);
      nodes.length = n - 1;
      times.push(
        await waitUntil(
          async () => (await poll()).every((m) => (m.find((r) => r.name === name)?.state ?? NodeState.dead) >= NodeState.dead),
          60_000,
        ),
      );
      nodes.push(await startSwimNode({ name, bind: h, port, join: [survivors[0]!.address], script }));
      await waitUntil(aliveEverywhere, 30_000);
      victimName = '';
    }
    return { times, idle, falseDead };
  } finally {
    for (const x of nodes) await x.stop().catch(() => {});
  }
}

async function serfTrials(n: number): Promise<Trials> {
  const agents: SerfAgent[] = [];
  const host = (i: number) => `127.0.2.${10 + i}`;
  const pidOf = (a: SerfAgent) => a.pid;
  const falseDead = new Set<string>();
  let victimName = '';
  const poll = async () => {
    const lists = await Promise.all(agents.map((a) => a.members()));
    lists.forEach((list, i) => {
      for (const r of list) if (r.name !== victimName && r.status === 'failed') falseDead.add(`${agents[i]!.name}->${r.name}`);
    });
    return lists;
  };
  try {
    for (let i = 0; i < n; i++) {
      agents.push(await startSerf({ name: `serf-${i}`, host: host(i) }));
      if (i) await agents[i]!.join(`${agents[0]!.host}:${agents[0]!.port}`);
    }
    const aliveEverywhere = async () => (await poll()).every((m) => m.filter((r) => r.status === 'alive').length === n);
    await waitUntil(aliveEverywhere, 30_000);
    const pids = agents.map(pidOf).filter((p): p is number => p !== undefined);
    const idle =
      pids.length === n
        ? await idleCost(pids, IDLE_WINDOW_MS)
        : { cpuPercent: Number.NaN, rssMiB: Number.NaN, anonMiB: Number.NaN, fileMiB: Number.NaN };
    const times: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const victim = agents[n - 1]!;
      const pid = pidOf(victim);
      if (pid === undefined) throw new Error('serf agent pid unknown');
      victimName = victim.name;
      process.kill(pid, 'SIGKILL');
      agents.length = n - 1;
      times.push(
        await waitUntil(async () => (await poll()).every((m) => m.find((r) => r.name === victim.name)?.status !== 'alive'), 60_000),
      );
      await victim.stop().catch(() => {});
      agents.push(await startSerf({ name: victim.name, host: victim.host }));
      await agents[n - 1]!.join(`${agents[0]!.host}:${agents[0]!.port}`);
      await waitUntil(aliveEverywhere, 30_000);
      victimName = '';
    }
    return { times, idle, falseDead };
  } finally {
    for (const a of agents) await a.stop().catch(() => {});
  }
}

async function simulated(n: number): Promise<{ detectMs: number; bound: number; perMemberPerSecond: number }> {
  const cluster = await simCluster({ n, seed: 1, config: lan });
  try {
    await cluster.run(30_000);
    // Steady state first: N joins leave N alive broadcasts queued on every member, each sent
    // retransmitMult x ceil(log10 N) times; measured before they drain, the load counts joining.
    for (let t = 0; t < 300_000 && cluster.nodes.some((x) => x.queue.size > 0); t += 10_000) await cluster.run(10_000);
    const sent0 = cluster.network.stats.sent;
    await cluster.run(30_000);
    const perMemberPerSecond = (cluster.network.stats.sent - sent0) / n / 30;
    const victim = cluster.nodes[n - 1]!;
    await victim.close();
    const survivors = cluster.nodes.slice(0, -1);
    const took = await cluster.until(
      () => survivors.every((s) => (cluster.stateOf(s, victim.name) ?? NodeState.dead) >= NodeState.dead),
      600_000,
    );
    const min = suspicionTimeout(lan.suspicionMult, n, lan.probeInterval);
    const bound = (2 * (n - 1) + 1) * lan.probeInterval + lan.suspicionMaxTimeoutMult * min + 10 * lan.gossipInterval;
    return { detectMs: took ?? Number.NaN, bound, perMemberPerSecond };
  } finally {
    await cluster.close();
  }
}

/** RSS of an idle `node` process doing nothing, the floor a node's memory is compared with. */
async function bareNodeRss(): Promise<IdleCost> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    await sleep(1_000);
    return await idleCost([child.pid!], 2_000);
  } finally {
    child.kill('SIGKILL');
  }
}

export async function run(): Promise<void> {
  console.log('\n## failure detection (SWIM vs serf)');
  const lines = { push: ([k, v]: [string, string]) => console.log(`  ${k}  ${v}`) };
  const sizes = (process.env.DETECTION_SIZES ?? '8,16').split(',').filter(Boolean).map(Number);
  const script = await compileEntry('test/peers/swim-node.ts');
  const bare = await bareNodeRss();
  for (const n of sizes) {
    const ours = await rollcallTrials(n, script);
    const serf = await serfTrials(n);
    const a = median(ours.times);
    const b = median(serf.times);
    lines.push([
      `SIGKILL -> every survivor knows, N=${n} (median of ${TRIALS})`,
      `rollcall ${(a / 1000).toFixed(2)} s, serf ${(b / 1000).toFixed(2)} s, ratio ${(a / b).toFixed(2)}x`,
    ]);
    lines.push([
      `idle per node, N=${n}`,
      `rollcall ${ours.idle.cpuPercent.toFixed(2)} % CPU ${ours.idle.rssMiB.toFixed(1)} MiB, serf ${serf.idle.cpuPercent.toFixed(2)} % CPU ${serf.idle.rssMiB.toFixed(1)} MiB; ` +
        `a bare node process ${bare.rssMiB.toFixed(1)} MiB (rollcall over it: ${(ours.idle.rssMiB - bare.rssMiB).toFixed(1)} MiB, target <= 10: ` +
        `private ${(ours.idle.anonMiB - bare.anonMiB).toFixed(1)}, file-backed ${(ours.idle.fileMiB - bare.fileMiB).toFixed(1)})`,
    ]);
    lines.push([
      `false positives, N=${n} (a survivor listing another dead)`,
      `rollcall ${ours.falseDead.size}${ours.falseDead.size ? ` (${[...ours.falseDead].join(', ')})` : ''}, serf ${serf.falseDead.size}`,
    ]);
  }
  const simSizes = (process.env.DETECTION_SIM_SIZES ?? '100,1000').split(',').filter(Boolean).map(Number);
  for (const n of simSizes) {
    const s = await simulated(n);
    lines.push([
      `simulated N=${n}, LAN`,
      `detected everywhere ${(s.detectMs / 1000).toFixed(1)} s (bound ${(s.bound / 1000).toFixed(1)} s), ${s.perMemberPerSecond.toFixed(2)} msgs/member/s`,
    ]);
  }
}
