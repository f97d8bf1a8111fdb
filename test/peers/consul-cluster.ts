/**
 * A real multi-server Consul cluster for the failover tests: servers on 127.0.0.2.., one data
 * directory each, sharing port numbers, each on its own address (see consul.ts for timings).
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { consulRequest, type DevAgentPorts, ensureConsul } from './consul.js';
import { live, type Proc, pickPorts, StartFailed, sleep, spawnAgent, terminate, waitUntil } from './consul-agents.js';

// Cluster

export interface ClusterServer {
  readonly index: number;
  readonly ip: string;
  readonly nodeName: string;
  /** `http://127.0.0.N:PORT` */
  readonly address: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface ConsulCluster {
  readonly servers: readonly ClusterServer[];
  /** Port numbers shared by every server, each listening on its own IP. */
  readonly ports: DevAgentPorts;
  /** Milliseconds from spawn until all servers agreed on a leader. */
  readonly electionMs: number;
  readonly dir: string;
  /** Index of the leader all live servers agree on right now, or undefined. */
  leader(): Promise<number | undefined>;
  /** Polls until the live servers agree on a live leader other than `not`; returns its index. */
  waitForLeader(opts?: { not?: number; timeoutMs?: number }): Promise<number>;
  /** SIGKILL server `i`. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ClusterOptions {
  /** Servers on 127.0.0.2 .. 127.0.0.(size+1). @default 3 */
  size?: number;
  hcl?: string;
  /** @default 30000 */
  startTimeoutMs?: number;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<ConsulCluster> {
  const bin = await ensureConsul();
  const size = opts.size ?? 3;
  if (size < 1 || size > 9) throw new Error('cluster size must be 1..9');
  const ips = Array.from({ length: size }, (_, i) => `127.0.0.${i + 2}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'rollcall-consul-cluster-'));
  const procs: Array<Proc | undefined> = ips.map(() => undefined);
  const entry = { procs: () => procs.filter((p): p is Proc => p !== undefined), dirs: [dir] };
  live.add(entry);
  const logFiles = ips.map((_, i) => path.join(dir, `s${i + 1}.log`));
  const dataDirs = ips.map((_, i) => path.join(dir, `s${i + 1}-data`));

  const stopAll = async () => {
    await Promise.all(entry.procs().map((p) => terminate(p, 0)));
  };

  try {
    let ports: DevAgentPorts | undefined;
    let electionMs = 0;
    const leaderOf = async (i: number, p: DevAgentPorts): Promise<string> => {
      const r = await consulRequest(`http://${ips[i]}:${p.http}/v1/status/leader`, { timeoutMs: 1_000 });
      return r.status === 200 ? (r.json<string>() ?? '') : '';
    };
    const agreedLeader = async (p: DevAgentPorts, not?: number): Promise<number | undefined> => {
      const alive = ips.map((_, i) => i).filter((i) => procs[i] && !procs[i]?.done);
      const seen = await Promise.all(alive.map((i) => leaderOf(i, p).catch(() => '')));
      const first = seen[0];
      if (!first || seen.some((s) => s !== first)) return undefined;
      const idx = ips.indexOf(first.slice(0, first.lastIndexOf(':')));
      return idx >= 0 && alive.includes(idx) && idx !== not ? idx : undefined;
    };

    for (let attempt = 0; ; attempt++) {
      const [http, dns, serfLan, serfWan, server] = (await pickPorts(ips, 5)) as [number, number, number, number, number];
      const p: DevAgentPorts = { http, dns, serfLan, serfWan, server };
      const t0 = performance.now();
      ips.forEach((ip, i) => {
        rmSync(dataDirs[i] as string, { recursive: true, force: true });
        const cfg = path.join(dir, `s${i + 1}.json`);
        writeFileSync(
          cfg,
          JSON.stringify({
            node_name: `s${i + 1}`,
            server: true,
            bootstrap_expect: size,
            bind_addr: ip,
            advertise_addr: ip,
            client_addr: ip,
            data_dir: dataDirs[i],
            disable_update_check: true,
            ports: { http, dns, grpc: -1, serf_lan: serfLan, serf_wan: serfWan, server },
            retry_join: ips.filter((o) => o !== ip).map((o) => `${o}:${serfLan}`),
            retry_interval: '250ms',
            performance: { raft_multiplier: 1 },
          }),
        );
        procs[i] = spawnAgent(bin, ['agent', '-config-file', cfg, ...(opts.hcl ? ['-hcl', opts.hcl] : [])], logFiles[i] as string, dir);
      });
      try {
        await waitUntil(
          `a leader in the ${size}-server cluster`,
          entry.procs(),
          logFiles,
          async () => (await agreedLeader(p)) !== undefined,
          opts.startTimeoutMs ?? 30_000,
        );
        electionMs = performance.now() - t0;
        ports = p;
        break;
      } catch (err) {
        await stopAll();
        if (err instanceof StartFailed && err.portClash && attempt < 4) continue;
        throw err;
      }
    }

    const fixed = ports;
    let stopped = false;
    const servers: ClusterServer[] = ips.map((ip, i) => ({
      index: i,
      ip,
      nodeName: `s${i + 1}`,
      address: `http://${ip}:${fixed.http}`,
      get pid() {
        return (procs[i] as Proc).pid;
      },
      get alive() {
        return !(procs[i] as Proc).done;
      },
      dataDir: dataDirs[i] as string,
      logFile: logFiles[i] as string,
    }));

    const cluster: ConsulCluster = {
      servers,
      ports: fixed,
      electionMs,
      dir,
      leader: () => agreedLeader(fixed),
      async waitForLeader(o = {}) {
        const deadline = Date.now() + (o.timeoutMs ?? 30_000);
        for (;;) {
          const idx = await agreedLeader(fixed, o.not);
          if (idx !== undefined) return idx;
          if (Date.now() > deadline) throw new Error(`no leader agreed on within ${o.timeoutMs ?? 30_000} ms; logs in ${dir}`);
          await sleep(20);
        }
      },
      async kill(i) {
        const p = procs[i];
        if (!p) throw new Error(`no server ${i}`);
        await terminate(p, 0);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      },
      [Symbol.asyncDispose]: () => cluster.stop(),
    };
    return cluster;
  } catch (err) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
    throw err;
  }
}
