/**
 * The README's main job runs as written and tells a consistent story. As root on Linux it runs on
 * mDNS across a LAN of network namespaces it builds itself: then the greeters and the client must
 * be on different hosts and every call must cross the bridge.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lanAvailable } from './peers/lan.js';

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

  if (lanAvailable().ok) {
    assert.match(lines[0] ?? '', /registry: mdns, on a LAN of network namespaces/, stdout);
    const hostOf = new Map<string, string>();
    for (const l of lines) {
      const m = /(greeter-\d) on host \w+ \(([\d.]+)\) listening on ([\d.]+):\d+/.exec(l);
      if (m) {
        assert.equal(m[2], m[3], 'each greeter listens on its own host address');
        hostOf.set(m[1] as string, m[2] as string);
      }
    }
    const clientAddress = /client on host \w+ \(([\d.]+)\)/.exec(stdout)?.[1];
    assert.equal(hostOf.size, 3, stdout);
    assert.equal(new Set([...hostOf.values(), clientAddress]).size, 4, 'four different hosts');
    // Every call reached the address mDNS discovered for that greeter on another host.
    for (const l of calls) {
      const m = /from (greeter-\d) at ([\d.]+):\d+/.exec(l);
      assert.equal(m?.[2], hostOf.get(m?.[1] ?? ''), l);
      assert.notEqual(m?.[2], clientAddress);
    }
  } else {
    assert.match(stdout, /running on the memory adapter/, 'without root the demo says it is not on mDNS');
  }
});
