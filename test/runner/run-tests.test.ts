/**
 * scripts/run-tests.mjs under a leak and a hang: a test file that leaves something open, or a test
 * that never ends, fails its file within bounded time instead of hanging the whole run. Each case
 * runs the real script in a child process on a fixture file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Outcome {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs the test script on one file; kills it (and says so) if it outlives `limit` ms. */
function runScript(file: string, env: Record<string, string>, limit: number): Promise<Outcome> {
  const started = Date.now();
  // Without this the script's test runner would take itself for a file run by ours, and skip.
  const { NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  const child = spawn(process.execPath, ['scripts/run-tests.mjs', file], {
    cwd: root,
    env: { ...inherited, ROLLCALL_SKIP_PEERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const timer = setTimeout(() => {
    output += `\n[still running after ${limit} ms: killed]`;
    // The script and the test processes it started form one process group of ours.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, limit);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

describe('run-tests: a leaking or hanging test file fails instead of hanging the run', () => {
  it('a file whose tests pass but leave a timer running fails, naming what is open', async () => {
    const r = await runScript(fixture('leaks-a-timer.ts'), { ROLLCALL_LEAK_GRACE_MS: '500' }, 30_000);
    assert.equal(r.code, 1, `the run fails (exit 1) within 30 s; took ${r.ms} ms:\n${r.output.slice(-3000)}`);
    assert.match(r.output, /LEAK: .*leaks-a-timer\.ts finished its tests/, 'the leak is reported');
    assert.match(r.output, /Active resources: .*Timeout/, 'the open timer is named');
  });

  it('a test that never ends fails its file at the file time limit', async () => {
    const r = await runScript(fixture('hangs.ts'), { ROLLCALL_TEST_TIMEOUT_MS: '2000' }, 30_000);
    assert.equal(r.code, 1, `the run fails (exit 1) within 30 s; took ${r.ms} ms:\n${r.output.slice(-3000)}`);
    assert.match(r.output, /timed out after 2000ms/);
  });

  it('a file that closes what it opens passes at once', async () => {
    const r = await runScript(fixture('clean.ts'), { ROLLCALL_LEAK_GRACE_MS: '30000' }, 30_000);
    assert.equal(r.code, 0, r.output.slice(-3000));
    assert.ok(r.ms < 20_000, `no grace period spent on a clean file (${r.ms} ms)`);
    assert.doesNotMatch(r.output, /LEAK/);
  });
});
