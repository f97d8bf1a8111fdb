import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { clampDelay, MAX_TIMER_DELAY, systemClock } from '../../src/internal/clock.js';

const clockUrl = new URL('../../src/internal/clock.ts', import.meta.url).href;

/** Runs an ESM snippet in a child node and resolves with its exit code. */
function exitCode(source: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

describe('systemClock', () => {
  it('now: monotonic milliseconds', async () => {
    const a = systemClock.now();
    await new Promise((r) => setTimeout(r, 20));
    const b = systemClock.now();
    assert.ok(b - a >= 15, `advanced ${b - a} ms`);
  });

  it('setTimeout: runs once after the delay', async () => {
    const started = systemClock.now();
    const ran = await new Promise<number>((resolve) => systemClock.setTimeout(() => resolve(systemClock.now()), 30, { ref: true }));
    assert.ok(ran - started >= 25, `ran after ${ran - started} ms`);
  });

  it('setTimeout: cancel prevents the callback, twice is harmless', async () => {
    let calls = 0;
    const timer = systemClock.setTimeout(() => calls++, 5, { ref: true });
    timer.cancel();
    timer.cancel();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(calls, 0);
  });

  it('setTimeout: a delay beyond 2^31-1 ms is clamped, not fired at once', async () => {
    let calls = 0;
    const timer = systemClock.setTimeout(() => calls++, 0xffffffff * 1000);
    await new Promise((r) => setTimeout(r, 30));
    timer.cancel();
    assert.equal(calls, 0);
  });

  it('setTimeout: lets the process exit by default, holds it with { ref: true }', async () => {
    const script = (ref: boolean) =>
      `import { systemClock } from ${JSON.stringify(clockUrl)}; systemClock.setTimeout(() => process.exit(7), 1500, { ref: ${ref} });`;
    assert.equal(await exitCode(script(false)), 0);
    assert.equal(await exitCode(script(true)), 7);
    const timer = systemClock.setTimeout(() => {}, 1000);
    assert.equal(timer.ref().unref(), timer);
    timer.cancel();
  });
});

describe('clampDelay', () => {
  it('clamps to [0, 2^31-1], NaN -> 0', () => {
    assert.equal(clampDelay(Number.NaN), 0);
    assert.equal(clampDelay(-5), 0);
    assert.equal(clampDelay(12.5), 12.5);
    assert.equal(clampDelay(Number.POSITIVE_INFINITY), MAX_TIMER_DELAY);
    assert.equal(clampDelay(2 ** 40), MAX_TIMER_DELAY);
  });
});
