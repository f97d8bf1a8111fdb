/**
 * The two clusters the propagation benchmark compares, one process per node on its own loopback
 * address: rollcall gossip registries (propagation-node.ts) and serf agents, both at memberlist's
 * LAN timing. Each announces one thing from node 0 and reports, per node, when it arrived there as
 * that node's own wall clock saw it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serviceToGoJson } from '../../src/adapters/gossip/registry/service-json.js';
import type { ServiceInput } from '../../src/index.js';
import { normalizeService } from '../../src/service.js';
import { stopChild } from '../../test/peers/process.js';
import { type SerfAgent, startSerf } from '../../test/peers/serf.js';

export interface Cluster {
  readonly pids: number[];
  /**
   * Announces `service` from node 0 and resolves, once every node has it or `timeoutMs` passed,
   * with each other node's arrival in ms after node 0's start (NaN where it never arrived).
   */
  announce(service: ServiceInput, timeoutMs: number): Promise<number[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(pollMs);
  }
  return check();
}

const nodeEntry = fileURLToPath(new URL('./propagation-node.ts', import.meta.url));

/** One propagation-node.ts process and what it reported. */
class RollcallNode {
  readonly created = new Map<string, number>();
  readonly registered = new Map<string, number>();
  address = '';
  alive = 0;
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;

  constructor(name: string, bind: string, seed?: string) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', nodeEntry, name, bind, ...(seed ? [seed] : [])], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => reject(new Error(`rollcall node ${name} exited (${code})`)));
      createInterface({ input: this.#child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        const m = JSON.parse(line) as {
          ready?: boolean;
          address?: string;
          created?: string;
          registered?: string;
          at?: number;
          alive?: number;
        };
        if (m.ready) {
          this.address = m.address as string;
          resolve();
        }
        if (m.created) this.created.set(m.created, m.at as number);
        if (m.registered) this.registered.set(m.registered, m.at as number);
        if (m.alive !== undefined) this.alive = m.alive;
      });
    });
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  send(command: object): void {
    this.#child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  stop(): Promise<void> {
    this.#child.removeAllListeners('exit');
    return stopChild(this.#child);
  }
}

/** `n` rollcall gossip registries on `host(i)`, all joined through node 0; resolves once every one sees all `n` alive. */
export async function startRollcallCluster(n: number, host: (i: number) => string): Promise<Cluster> {
  const nodes: RollcallNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((x) => x.stop().catch(() => {})));
  };
  try {
    nodes.push(new RollcallNode('rc-0', host(0)));
    await nodes[0]?.ready();
    const seed = nodes[0]?.address;
    // A few at a time: starting 32 processes at once on two cores only makes each start slower.
    for (let i = 1; i < n; i += 4) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 4); j++) batch.push(new RollcallNode(`rc-${j}`, host(j), seed));
      nodes.push(...batch);
      await Promise.all(batch.map((x) => x.ready()));
    }
    const converged = await until(
      async () => {
        for (const x of nodes) x.send({ members: true });
        await sleep(200);
        return nodes.every((x) => x.alive === n);
      },
      60_000,
      0,
    );
    if (!converged) throw new Error(`rollcall cluster of ${n} did not converge: ${nodes.map((x) => x.alive).join(',')}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pids: nodes.map((x) => x.pid),
    async announce(service, timeoutMs) {
      const origin = nodes[0] as RollcallNode;
      origin.send({ register: service });
      const others = nodes.slice(1);
      await until(() => origin.registered.has(service.name) && others.every((x) => x.created.has(service.name)), timeoutMs);
      const start = origin.registered.get(service.name) ?? Number.NaN;
      return others.map((x) => (x.created.get(service.name) ?? Number.NaN) - start);
    },
    stop,
  };
}

/**
 * `n` serf agents on `host(i)` (RPC on 127.0.0.1, off the counted addresses), each with an event
 * handler that appends the user event's name and the wall clock in ns to a file of its own.
 */
export async function startSerfCluster(n: number, host: (i: number) => string): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-propagation-'));
  const logOf = (i: number) => join(dir, `serf-${i}.log`);
  const agents: SerfAgent[] = [];
  const stop = async () => {
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      // serf runs a handler with `/bin/sh -c`; its fork is paid at node 0 as at every other node.
      const handler = `user=printf '%s %s\\n' "$SERF_USER_EVENT" "$(date +%s%N)" >> ${logOf(i)}`;
      agents.push(await startSerf({ name: `serf-${i}`, host: host(i), rpcHost: '127.0.0.1', profile: 'lan', eventHandlers: [handler] }));
    }
    const first = agents[0] as SerfAgent;
    for (const a of agents.slice(1)) await a.join(`${first.host}:${first.port}`);
    const converged = await until(
      async () => (await Promise.all(agents.map((a) => a.members()))).every((m) => m.filter((r) => r.status === 'alive').length === n),
      60_000,
      200,
    );
    if (!converged) throw new Error(`serf cluster of ${n} did not converge`);
  } catch (error) {
    await stop();
    throw error;
  }
  const arrival = (i: number, name: string): number | undefined => {
    let text = '';
    try {
      text = readFileSync(logOf(i), 'utf8');
    } catch {
      return undefined;
    }
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(BigInt(line.slice(name.length + 1)) / 1000n) / 1000 : undefined;
  };
  return {
    pids: agents.map((a) => a.pid ?? -1),
    async announce(service, timeoutMs) {
      // The payload is the Service JSON rollcall gossips, so both carry the same data. Not
      // coalesced: serf's agent otherwise holds user events back for its coalescing window.
      const payload = Buffer.from(serviceToGoJson(normalizeService(service))).toString('utf8');
      await (agents[0] as SerfAgent).userEvent(service.name, payload, false);
      await until(() => agents.every((_, i) => arrival(i, service.name) !== undefined), timeoutMs, 50);
      const start = arrival(0, service.name) ?? Number.NaN;
      return agents.slice(1).map((_, i) => (arrival(i + 1, service.name) ?? Number.NaN) - start);
    },
    stop,
  };
}
