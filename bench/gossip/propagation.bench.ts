/**
 * Propagation of one registration to every node. On real sockets, one process per node on its own
 * loopback address: N rollcall gossip registries (preset `lan`) and N serf agents (profile `lan`,
 * the same memberlist timing: gossip every 200 ms to 3 nodes), both clusters up side by side and
 * trials of the two alternating. rollcall registers a service on node 0 and each node's watch
 * stamps the `create`; serf sends a user event carrying the same Service JSON from agent 0 and
 * each agent's event handler stamps it. Prints p50 and p99 over the trials of the time until the
 * last node has it, and the bytes on the wire per node per registration, counted by nftables on
 * each cluster's addresses over a fixed window, minus the same window while that cluster idled
 * (the other one's trial). Sizes: PROPAGATION_SIZES (default 8,16; 32 works), PROPAGATION_TRIALS
 * (default 10 per system and size), PROPAGATION_WINDOW_MS (default 3000).
 */
import { readFileSync } from 'node:fs';
import { serfMissing } from '../../test/peers/serf.js';
import { fmt, median, quantile } from '../lib.js';
import { countLoopbackBytes, nftMissing } from './loopback-bytes.js';
import { type Cluster, startRollcallCluster, startSerfCluster } from './propagation-clusters.js';

const TRIALS = Number(process.env.PROPAGATION_TRIALS ?? 10);
/**
 * Long enough for every retransmission to end: a node passes an update on for
 * 4 × ceil(log10(N + 1)) sends, 3 per 200 ms gossip round, so under 1 s after it first heard it.
 */
const WINDOW_MS = Number(process.env.PROPAGATION_WINDOW_MS ?? 3_000);
/** A node that missed every gossip copy still gets it from the next push/pull (every 30 s per node at LAN timing). */
const ARRIVAL_TIMEOUT_MS = 35_000;
/** Up to 90 nodes each: rollcall on 127.0.4.10-99, serf on 127.0.4.100-189. */
const RANGES = { rollcall: '127.0.4.10-127.0.4.99', serf: '127.0.4.100-127.0.4.189' } as const;
const hosts = { rollcall: (i: number) => `127.0.4.${10 + i}`, serf: (i: number) => `127.0.4.${100 + i}` };
type System = keyof typeof RANGES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pids: number[]): number {
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return pids.reduce((sum, pid) => sum + rss(pid), 0) / pids.length;
}

interface Samples {
  /** Per trial: ms until the last node had it. */
  last: number[];
  /** Bytes counted in each trial's window, and in each idle window of the same length. */
  busy: number[];
  idle: number[];
}

/** The service of one trial: one node, as a small HTTP service announces itself. */
function trialService(n: number, system: System, trial: number) {
  const name = `prop-${system}-${n}-${trial}`;
  return {
    name,
    version: '1.0.0',
    metadata: { team: 'bench' },
    nodes: [{ id: `${name}-1`, address: '10.0.0.7:8080', metadata: { protocol: 'http' } }],
  };
}

async function measure(n: number): Promise<{ samples: Record<System, Samples>; rss: Record<System, number> }> {
  const counters = countLoopbackBytes(RANGES);
  const clusters: Partial<Record<System, Cluster>> = {};
  try {
    clusters.rollcall = await startRollcallCluster(n, hosts.rollcall);
    clusters.serf = await startSerfCluster(n, hosts.serf);
    const rss = { rollcall: rssMiB(clusters.rollcall.pids), serf: rssMiB(clusters.serf.pids) };
    const samples: Record<System, Samples> = {
      rollcall: { last: [], busy: [], idle: [] },
      serf: { last: [], busy: [], idle: [] },
    };
    // One announcement each first, not counted: the first one in a Node process runs cold code.
    for (const system of ['serf', 'rollcall'] as const) await clusters[system]?.announce(trialService(n, system, -1), ARRIVAL_TIMEOUT_MS);
    await sleep(WINDOW_MS);
    for (let trial = 0; trial < TRIALS; trial++) {
      // Alternate which goes first, so neither always follows the other's traffic.
      const order: System[] = trial % 2 === 0 ? ['serf', 'rollcall'] : ['rollcall', 'serf'];
      for (const system of order) {
        const other: System = system === 'serf' ? 'rollcall' : 'serf';
        const before = counters.read();
        const window = sleep(WINDOW_MS).then(() => counters.read());
        const arrivals = await (clusters[system] as Cluster).announce(trialService(n, system, trial), ARRIVAL_TIMEOUT_MS);
        const after = await window;
        // A node it never reached counts as never.
        samples[system].last.push(arrivals.some(Number.isNaN) ? Number.POSITIVE_INFINITY : Math.max(...arrivals));
        samples[system].busy.push((after[system] ?? 0) - (before[system] ?? 0));
        samples[other].idle.push((after[other] ?? 0) - (before[other] ?? 0));
      }
    }
    return { samples, rss };
  } finally {
    await clusters.rollcall?.stop();
    await clusters.serf?.stop();
    counters.close();
  }
}

/** Bytes per node for one registration: the window's median less the idle window's median. */
function bytesPerNode(s: Samples, n: number): number {
  return (median(s.busy) - median(s.idle)) / n;
}

export async function run(): Promise<void> {
  console.log('\n## propagation of one registration (rollcall gossip vs serf user event)');
  const missing = serfMissing() ?? nftMissing();
  if (missing) {
    if (process.env.CI === 'true') throw new Error(`propagation benchmark: ${missing} (CI=true: this must not be skipped)`);
    console.log(`  SKIPPED: ${missing}`);
    return;
  }
  const sizes = (process.env.PROPAGATION_SIZES ?? '8,16').split(',').map(Number);
  for (const n of sizes) {
    const { samples, rss } = await measure(n);
    const ms = (v: number) => fmt.ns(v * 1e6);
    const stat = (s: Samples) => ({ p50: median(s.last), p99: quantile(s.last, 0.99) });
    const ours = stat(samples.rollcall);
    const serf = stat(samples.serf);
    const ourBytes = bytesPerNode(samples.rollcall, n);
    const serfBytes = bytesPerNode(samples.serf, n);
    const missed = (s: Samples) => s.last.filter((v) => v === Number.POSITIVE_INFINITY).length;
    const print = (k: string, v: string) => console.log(`  ${k.padEnd(44)}  ${v}`);
    print(
      `last node has it, N=${n} (${TRIALS} trials each)`,
      `p50 rollcall ${ms(ours.p50)}, serf ${ms(serf.p50)}, ratio ${fmt.ratio(ours.p50 / serf.p50)}; ` +
        `p99 rollcall ${ms(ours.p99)}, serf ${ms(serf.p99)}, ratio ${fmt.ratio(ours.p99 / serf.p99)}`,
    );
    if (missed(samples.rollcall) + missed(samples.serf) > 0)
      print(
        `  not everywhere within ${ARRIVAL_TIMEOUT_MS} ms`,
        `rollcall ${missed(samples.rollcall)}, serf ${missed(samples.serf)} trials`,
      );
    print(
      `bytes per node per registration, N=${n}`,
      `rollcall ${ourBytes.toFixed(0)} B, serf ${serfBytes.toFixed(0)} B, ratio ${fmt.ratio(ourBytes / serfBytes)}` +
        ` (idle ${(median(samples.rollcall.idle) / n).toFixed(0)} / ${(median(samples.serf.idle) / n).toFixed(0)} B per node per window)`,
    );
    print(`RSS per node, N=${n}`, `rollcall ${rss.rollcall.toFixed(1)} MiB, serf ${rss.serf.toFixed(1)} MiB`);
  }
}
