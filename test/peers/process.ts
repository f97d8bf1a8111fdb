/**
 * Small process helpers for the test peers: run to completion, stop by PID, wait for a line of
 * output, and the `ip` command.
 */
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  /** Kill the process (by PID) after this long; default 30 s. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function collect(child: ChildProcess, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => killPid(child.pid, 'SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function killPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Stop a child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (exited(child)) return;
  killPid(child.pid, 'SIGTERM');
  if (await waitExit(child, graceMs)) return;
  killPid(child.pid, 'SIGKILL');
  await waitExit(child, 2000);
}

/**
 * Resolve with the first line of `stream` (or of any of several streams, e.g.
 * a child's stdout and stderr) that matches; reject on timeout or when every
 * stream has ended first.
 */
export function waitForLine(
  stream: Readable | null | undefined | ReadonlyArray<Readable | null | undefined>,
  match: RegExp | ((line: string) => boolean),
  timeoutMs = 10_000,
  what = 'line',
): Promise<string> {
  const streams = (Array.isArray(stream) ? stream : [stream]).filter((s): s is Readable => !!s);
  if (streams.length === 0) return Promise.reject(new Error(`no stream to wait for ${what}`));
  const test = typeof match === 'function' ? match : (l: string) => match.test(l);
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    let open = streams.length;
    const interfaces = streams.map((input) => createInterface({ input }));
    const done = (fn: () => void) => {
      clearTimeout(timer);
      for (const rl of interfaces) {
        rl.off('line', onLine);
        rl.off('close', onClose);
      }
      fn();
    };
    const onLine = (line: string) => {
      seen.push(line);
      if (test(line)) done(() => resolve(line));
    };
    const onClose = () => {
      open -= 1;
      if (open === 0) done(() => reject(new Error(`output ended before ${what}; last lines:\n${seen.slice(-20).join('\n')}`)));
    };
    const timer = setTimeout(
      () =>
        done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${seen.slice(-20).join('\n')}`))),
      timeoutMs,
    );
    for (const rl of interfaces) {
      rl.on('line', onLine);
      rl.on('close', onClose);
    }
  });
}

/** Every JSON object printed one per line on `stream`. */
export function jsonLines<T = Record<string, unknown>>(stream: Readable | null | undefined, onItem: (item: T) => void): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    const s = line.trim();
    if (!s.startsWith('{')) return;
    try {
      onItem(JSON.parse(s) as T);
    } catch {
      // not ours
    }
  });
}

export function ipSync(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
