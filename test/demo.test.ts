/**
 * The README's main job runs as written on memory, gossip, consul and mdns, ends by itself, and
 * tells a consistent story: round-robin reaches all three greeters, the SIGKILLed one is removed once its
 * TTL runs out and the gracefully stopped one at once, and no call goes to either afterwards. On
 * mDNS (as root) the greeters and the client are on four different namespace hosts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureConsul, requirePeer } from './peers/consul.js';
import { lanAvailable } from './peers/lan.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function demo(args: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'demo', '--', ...args], {
    cwd: root,
    timeout: 70_000,
    env: { ...process.env, ROLLCALL_REGISTRY: '', MICRO_REGISTRY: '', ROLLCALL_REGISTRY_ADDRESS: '' },
  });
  return stdout.trim().split('\n');
}

/** The story every registry must tell, whatever carries it. */
function checkStory(lines: string[]): void {
  const text = lines.join('\n');
  const calls = lines.filter((l) => / call \d+: /.test(l));
  assert.equal(calls.length, 7, text);
  const first = calls.slice(0, 3).map((l) => /from (greeter-\d)/.exec(l)?.[1]);
  assert.deepEqual([...first].sort(), ['greeter-1', 'greeter-2', 'greeter-3'], 'round-robin reaches every server');

  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const killAt = at(/greeter-3 is SIGKILLed/);
  const killedGone = at(/watch: (update|delete) .*removed \[greeter-3\]/);
  const stopAt = at(/greeter-2 stops gracefully/);
  const stoppedGone = at(/watch: (update|delete) .*removed \[greeter-2\]/);
  assert.ok(killAt > 0 && killedGone > killAt, `the watch shows the SIGKILLed greeter-3 removed:\n${text}`);
  assert.ok(stopAt > killedGone && stoppedGone > stopAt, `the watch shows the stopped greeter-2 removed:\n${text}`);
  const seconds = (re: RegExp) => Number(/gone ([\d.]+) s after/.exec(lines.find((l) => re.test(l)) ?? '')?.[1]);
  // Without a goodbye the node lives out its TTL (6 s; mdns drops it between 2/3 and all of it).
  assert.ok(seconds(/saw greeter-3 gone/) >= 3, text);
  assert.ok(seconds(/saw greeter-2 gone/) < seconds(/saw greeter-3 gone/), 'a goodbye is faster than a TTL');

  for (const l of calls.slice(3)) assert.doesNotMatch(l, /greeter-3/, 'no call to the killed server');
  for (const l of calls.slice(5)) assert.match(l, /greeter-1/, 'only greeter-1 is left');
  assert.match(lines.at(-1) ?? '', /\] done$/);
}

/** On gossip every greeter listens on its own loopback address and the calls reach those. */
function checkGossip(lines: string[]): void {
  checkStory(lines);
  const at = new Map<string, string>();
  for (const l of lines) {
    const m = /(greeter-(\d)) \(child process, gossip member\) listening on (127\.0\.0\.\d+):\d+/.exec(l);
    if (m) at.set(m[1] as string, m[3] as string);
  }
  assert.deepEqual([...at.values()].sort(), ['127.0.0.3', '127.0.0.4', '127.0.0.5'], lines.join('\n'));
  for (const l of lines.filter((x) => / call \d+: /.test(x))) {
    const m = /from (greeter-\d) at ([\d.]+):\d+/.exec(l);
    assert.equal(m?.[2], at.get(m?.[1] ?? ''), l);
  }
}

describe('demo', { timeout: 240_000 }, () => {
  it('memory: one process, a crash standing in for SIGKILL', async () => {
    const lines = await demo(['--registry', 'memory']);
    assert.match(lines[0] ?? '', /registry: memory/);
    checkStory(lines);
  });

  it('consul: greeters as child processes on a dev agent the demo starts', async (t) => {
    if (!(await requirePeer(t, () => ensureConsul()))) return;
    const lines = await demo(['--registry', 'consul']);
    assert.match(lines[0] ?? '', /registry: consul, a dev agent started for the demo on 127\.0\.0\.1:\d+/);
    assert.match(lines.join('\n'), /--registry consul --address/, 'says how to use a real agent');
    checkStory(lines);
  });

  it('gossip: the client and three greeter child processes, each a member on its own 127.0.0.x', async () => {
    const lines = await demo(['--registry', 'gossip']);
    assert.match(lines[0] ?? '', /registry: gossip, a cluster on loopback: the client is the seed member at 127\.0\.0\.2:\d+/);
    checkGossip(lines);
  });

  it('mdns (the default): four namespace hosts, or gossip on loopback with the reason without root', async () => {
    const lines = await demo([]);
    const text = lines.join('\n');
    if (!lanAvailable().ok) {
      assert.match(text, /needs root on Linux/, 'without root the demo says why it is not on mDNS');
      assert.match(text, /runs on the gossip adapter on 127\.0\.0\.x/, text);
      checkGossip(lines);
      return;
    }
    checkStory(lines);
    assert.match(lines[0] ?? '', /registry: mdns, on a LAN of network namespaces/, text);
    const hostOf = new Map<string, string>();
    for (const l of lines) {
      const m = /(greeter-\d) on host \w+ \(([\d.]+)\) listening on ([\d.]+):\d+/.exec(l);
      if (!m) continue;
      assert.equal(m[2], m[3], 'each greeter listens on its own host address');
      hostOf.set(m[1] as string, m[2] as string);
    }
    const clientAddress = /client on host \w+ \(([\d.]+)\)/.exec(text)?.[1];
    assert.equal(hostOf.size, 3, text);
    assert.equal(new Set([...hostOf.values(), clientAddress]).size, 4, 'four different hosts');
    for (const l of lines.filter((x) => / call \d+: /.test(x))) {
      const m = /from (greeter-\d) at ([\d.]+):\d+/.exec(l);
      assert.equal(m?.[2], hostOf.get(m?.[1] ?? ''), `the call went to the address mDNS found for that greeter: ${l}`);
    }
  });
});
