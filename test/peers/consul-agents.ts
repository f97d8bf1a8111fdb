/**
 * What every Consul agent of the tests runs on: ports free on every address it binds (held while
 * picked, from below the ephemeral range), agent processes spawned with their log in their own
 * directory, a watchdog that kills them by PID if this process dies hard, and waiting for
 * readiness with the log at hand when an agent exits first.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * Ports come from below the kernel's ephemeral range, so outgoing connections never take one
 * while an agent is down for a same-ports restart; the random start keeps parallel test files
 * apart, and a start that still loses a race is retried on new ports.
 */
function portRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && lo > 12_000) return [10_000, lo - 1];
    if (hi && hi < 63_000) return [hi + 1, 65_535];
  } catch {}
  return [20_000, 32_767];
}

const handedOut = new Set<number>();

function holdTcp(host: string, port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

function holdUdp(host: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      try {
        s.close();
      } catch {}
      resolve(undefined);
    });
    s.bind({ address: host, port, exclusive: true }, () => resolve(s));
  });
}

/** `count` distinct ports free for both TCP and UDP on every host (all held until all are found). */
export async function pickPorts(hosts: readonly string[], count: number): Promise<number[]> {
  const [lo, hi] = portRange();
  const held: Array<{ close(): unknown }> = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > 500) throw new Error(`no free ports on ${hosts.join(', ')}`);
      const port = randomInt(lo, hi + 1);
      if (handedOut.has(port)) continue;
      const got: Array<{ close(): unknown }> = [];
      let ok = true;
      for (const host of hosts) {
        const t = await holdTcp(host, port);
        const u = t && (await holdUdp(host, port));
        if (t) got.push(t);
        if (u) got.push(u);
        if (!t || !u) {
          ok = false;
          break;
        }
      }
      if (ok) {
        ports.push(port);
        held.push(...got);
      } else for (const s of got) s.close();
    }
  } finally {
    for (const s of held) s.close();
  }
  for (const p of ports) handedOut.add(p);
  return ports;
}

// ---------------------------------------------------------------------------------------------
// Processes and cleanup

export interface Proc {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  done: boolean;
  watchdog?: number;
}

/** Everything to undo if the process ends before a test stops its agents. */
export const live = new Set<{ procs: () => Proc[]; dirs: string[] }>();

function cleanupSync(): void {
  for (const entry of live) {
    for (const p of entry.procs()) killQuietly(p, 'SIGKILL');
    for (const d of entry.dirs) rmSync(d, { recursive: true, force: true });
  }
  live.clear();
}
process.once('exit', cleanupSync);

export function killQuietly(p: Proc, signal: NodeJS.Signals): void {
  if (!p.done) {
    try {
      process.kill(p.pid, signal);
    } catch {}
  }
  if (p.watchdog !== undefined && signal === 'SIGKILL') {
    try {
      process.kill(p.watchdog, 'SIGKILL');
    } catch {}
    p.watchdog = undefined;
  }
}

/**
 * The 'exit' hook does not run when this process is killed hard (test runner timeout, SIGKILL):
 * a detached shell per agent then kills that agent's PID and removes its directory.
 */
const WATCHDOG = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null; rm -rf -- "$3"';

export function spawnAgent(bin: string, args: string[], logFile: string, dir: string): Proc {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    writeFileSync(fd, `\n==== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: dir });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not spawn ${bin}`);
  // A forgotten stop() must not keep the test process alive: the 'exit' hook kills the agent.
  child.unref();
  const proc: Proc = { child, pid: child.pid, done: false, exited: Promise.resolve() };
  proc.exited = new Promise((resolve) => {
    child.once('exit', () => {
      proc.done = true;
      if (proc.watchdog !== undefined) killQuietly(proc, 'SIGKILL');
      resolve();
    });
    child.once('error', () => {
      proc.done = true;
      resolve();
    });
  });
  const dog = spawn('sh', ['-c', WATCHDOG, 'consul-watchdog', String(process.pid), String(child.pid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
  proc.watchdog = dog.pid;
  return proc;
}

export async function terminate(p: Proc, graceMs: number): Promise<void> {
  if (p.done) return killQuietly(p, 'SIGKILL');
  killQuietly(p, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  // The child is unref'd, so this timer is what keeps the event loop up until its exit arrives.
  const timer = setTimeout(() => killQuietly(p, 'SIGKILL'), graceMs > 0 ? graceMs : 60_000);
  await p.exited;
  clearTimeout(timer);
  killQuietly(p, 'SIGKILL');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class StartFailed extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

/** Polls `ready` until it returns true; fails early with the log when the agent process died. */
export async function waitUntil(what: string, procs: Proc[], logFiles: string[], ready: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.findIndex((p) => p.done);
    if (dead >= 0) {
      const tail = logTail(logFiles[dead] ?? '');
      throw new StartFailed(`consul exited before ${what}; log ${logFiles[dead]}:\n${tail}`, /address already in use/.test(tail));
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; logs: ${logFiles.join(', ')}`);
    await sleep(20);
  }
}
