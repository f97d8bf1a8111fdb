/**
 * Time goes through the Clock (src/internal/clock.ts): protocol code that calls setTimeout,
 * setInterval, setImmediate or performance.now() itself cannot run on a simulated clock, and
 * skips the delay clamp. This test fails on any such call in src/ outside the timers module.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
/** The timers modules: real time (systemClock) and the simulated clock that stands in for it. */
const TIMERS_MODULES = new Set(['internal/clock.ts', 'internal/simulated-clock.ts']);
const RAW = /(?<![.\w#])(setTimeout|setInterval|setImmediate)\s*\(|(?<![.\w#])performance\.now\s*\(/g;

/**
 * Files still being moved onto the Clock, with how many raw calls each may hold. The numbers may
 * only go down; a file not listed may hold none.
 */
const MIGRATING: Record<string, number> = {};

function rawCalls(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of readdirSync(src, { recursive: true }).map(String)) {
    if (!file.endsWith('.ts') || TIMERS_MODULES.has(file)) continue;
    const lines = readFileSync(join(src, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (/^\s*\*/.test(code)) return;
      for (const m of code.matchAll(RAW)) {
        const list = found.get(file) ?? [];
        list.push(`${relative(process.cwd(), join(src, file))}:${i + 1}: ${m[0]}`);
        found.set(file, list);
      }
    });
  }
  return found;
}

it('timers: no raw setTimeout/setInterval/setImmediate/performance.now() in src/ outside the timers module', () => {
  const over: string[] = [];
  for (const [file, calls] of rawCalls()) if (calls.length > (MIGRATING[file] ?? 0)) over.push(...calls);
  assert.deepEqual(over, [], `take a Clock instead (src/internal/clock.ts):\n${over.join('\n')}`);
});
