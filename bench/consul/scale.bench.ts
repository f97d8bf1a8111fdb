/**
 * 1,000 watched services on a default-config dev agent (200 connections per client address):
 * rollcall (cap 8) against the `consul` npm client (a socket per watch), each in a process of its
 * own. Reports how many watches work, idle requests per watch per minute, the most connections
 * `ss` shows from the process, and memory per watch.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { startDevAgent } from '../../test/peers/consul.js';
import { report } from '../lib.js';

const SERVICES = 1_000;
/** Both sides block 10 s per query, so an idle period of 21 s sees every watch renew twice. */
const WAIT_MS = 10_000;
const IDLE_MS = 21_000;
const child = fileURLToPath(new URL('./scale-child.ts', import.meta.url));
const run$ = promisify(execFile);

interface ChildReport {
  kind: string;
  watches: number;
  answered: number;
  failing: number;
  errors: number;
  settledMs: number;
  rssPerWatch: number;
  heapPerWatch: number;
  idleRequests: number;
  idleMs: number;
}

async function connections(pid: number, port: number): Promise<number> {
  const { stdout } = await run$('ss', ['-tnpH', 'dst', `127.0.0.1:${port}`]);
  return stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

async function side(kind: 'rollcall' | 'consul', address: string, port: number): Promise<ChildReport & { maxConnections: number }> {
  const proc = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', child, kind, address, String(SERVICES), String(WAIT_MS), String(IDLE_MS)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  let most = 0;
  let done = false;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    most = Math.max(most, await connections(proc.pid as number, port).catch(() => 0));
    await new Promise((r) => setTimeout(r, 250));
  }
  return { ...(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildReport), maxConnections: most };
}

export async function run(): Promise<Record<string, ChildReport & { maxConnections: number }>> {
  const agent = await startDevAgent();
  try {
    const pool = new Pool(agent.address, { connections: 4 });
    // Plain services without checks: always passing, nothing renews them, so idle means idle.
    for (let i = 0; i < SERVICES; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, SERVICES - i) }, (_, j) =>
          pool
            .request({
              path: '/v1/agent/service/register',
              method: 'PUT',
              body: JSON.stringify({ ID: `scale-${i + j}`, Name: `scale-${i + j}`, Address: '10.0.0.1', Port: 8080 }),
            })
            .then((r) => r.body.dump()),
        ),
      );
    }
    await pool.destroy();
    const results: Record<string, ChildReport & { maxConnections: number }> = {};
    for (const kind of ['rollcall', 'consul'] as const) results[kind] = await side(kind, agent.address, agent.httpPort);
    const perMinute = (r: ChildReport) => ((r.idleRequests / r.watches) * 60_000) / r.idleMs;
    const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
    report(`consul: ${SERVICES} watched services, default-config agent, wait ${WAIT_MS / 1000} s on both sides`, [
      ...(['rollcall', 'consul'] as const).flatMap((k): Array<[string, string]> => {
        const r = results[k] as ChildReport & { maxConnections: number };
        const label = k === 'rollcall' ? 'rollcall (cap 8)' : 'consul npm';
        return [
          [`${label}: watches answered`, `${r.answered} of ${r.watches} (${r.errors} errors) after ${r.settledMs} ms`],
          [`${label}: idle requests / watch / min`, perMinute(r).toFixed(4)],
          [`${label}: most connections (ss)`, String(r.maxConnections)],
          [`${label}: memory / watch`, `${kib(r.rssPerWatch)} RSS, ${kib(r.heapPerWatch)} heap`],
        ];
      }),
    ]);
    return results;
  } finally {
    await agent.stop();
  }
}
