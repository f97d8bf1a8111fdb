/**
 * Runs the `rollcall` command as users do, in a child process (on this machine or inside a
 * namespace host), and reads its output line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LanHost } from '../peers/lan.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Non-empty stderr lines. */
  errors: string[];
}

/** `node --import tsx src/cli/main.ts ...args` as a child: here, or inside `host`. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv, host?: LanHost): ChildProcess {
  const argv = ['--import', 'tsx', cli, ...args];
  const options = { cwd: root, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  return host ? host.exec(process.execPath, argv, options) : spawn(process.execPath, argv, options);
}

/** The registry variables of the machine running the tests must not leak into a CLI under test. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(ROLLCALL_|MICRO_|CONSUL_HTTP_)/.test(name)) delete env[name];
  return env;
}

/** Runs the command to its end (killed by PID after `timeoutMs`). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, host?: LanHost, timeoutMs = 30_000): Promise<CliResult> {
  const child = spawnCli(args, env, host);
  return finish(child, timeoutMs);
}

export function finish(child: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, errors: stderr.split('\n').filter((l) => l.trim()) });
    });
  });
}

/** A long-running command (watch, register) whose stdout lines are JSON, collected as they come. */
export class LiveCli {
  readonly items: Record<string, unknown>[] = [];
  readonly done: Promise<CliResult>;
  #waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      try {
        this.items.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.items.push({ text: line });
      }
      for (const w of [...this.#waiters]) w();
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    this.done = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        for (const w of [...this.#waiters]) w();
        resolve({
          code,
          signal,
          stdout: this.items.map((i) => JSON.stringify(i)).join('\n'),
          stderr,
          errors: stderr.split('\n').filter(Boolean),
        });
      }),
    );
  }

  /** The first item (from the start) that `match` accepts, within `ms`. */
  waitFor(match: (item: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items.find(match);
        if (found) {
          cleanup();
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          cleanup();
          reject(new Error(`${what}: the command ended first; output: ${JSON.stringify(this.items)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${what}: not within ${ms} ms; output so far: ${JSON.stringify(this.items)}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Ctrl+C, then the result. */
  async interrupt(): Promise<CliResult> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.done;
  }
}
