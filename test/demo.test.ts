/** The README's main job runs as written and tells a consistent story. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));

it('demo: three greeters answer in turn; after greeter-2 stops the client sees it removed and goes on', { timeout: 60_000 }, async () => {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'demo'], {
    cwd: root,
    timeout: 50_000,
    env: { ...process.env, ROLLCALL_REGISTRY: '' },
  });
  const lines = stdout.trim().split('\n');
  const calls = lines.filter((l) => l.includes('] call '));
  assert.equal(calls.length, 6, stdout);
  const before = calls.slice(0, 3).map((l) => /from (greeter-\d)/.exec(l)?.[1]);
  assert.deepEqual([...before].sort(), ['greeter-1', 'greeter-2', 'greeter-3'], 'round-robin reaches every server');
  const stopAt = lines.findIndex((l) => l.includes('stopping greeter-2'));
  const removedAt = lines.findIndex((l) => /watch: (update|delete) .*removed \[greeter-2\]/.test(l));
  assert.ok(stopAt >= 0 && removedAt > stopAt, 'the watch reports greeter-2 removed after it stops');
  for (const l of calls.slice(3)) assert.doesNotMatch(l, /greeter-2/, 'no call goes to the stopped server');
  assert.equal(lines.at(-1), '[demo] done');
});
