#!/usr/bin/env node
// Runs every test file once: provisions the real peers first (Consul, LAN tools, avahi, Go),
// then hands all test files to node's test runner, several files at a time, because most of
// the wall time is spent waiting on real networks, not on the CPU.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ci = process.env.CI === 'true';
const isRoot = process.getuid?.() === 0;

if (process.env.ROLLCALL_SKIP_PEERS !== '1') {
  if (isRoot) {
    const started = Date.now();
    const peers = spawnSync('bash', [join(root, 'scripts/peers/install.sh')], { stdio: 'inherit' });
    if (peers.status !== 0) {
      console.error(`\nProvisioning the real peers failed (exit ${peers.status}).`);
      if (ci) process.exit(1);
      console.error('Continuing: tests that need them will be skipped loudly.\n');
    } else console.log(`peers ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else {
    console.warn('\n*** Not root: real-peer tests (LAN namespaces, avahi, Consul install) will be skipped. ***\n');
    if (ci) {
      console.error('CI=true needs root to run the real-peer tests.');
      process.exit(1);
    }
  }
}

// Arguments are parts of test file paths to run (all when none); an argument naming an existing
// file runs that file, whatever its name.
const args = process.argv.slice(2);
const given = args.filter((a) => /\.[cm]?[jt]s$/.test(a) && existsSync(resolve(a))).map((a) => relative(root, resolve(a)));
const filter = args.filter((a) => !given.includes(relative(root, resolve(a))));
const found =
  given.length > 0 && filter.length === 0
    ? []
    : readdirSync(join(root, 'test'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.test.ts'))
        .map((f) => relative(root, join(root, 'test', f)))
        .filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)));
const files = [...new Set([...given, ...found])].sort();

// One hung file must fail, not hang the run. Every file (and every test in it) gets a time limit,
// generous next to the slowest real-peer file (test/adapters/mdns.test.ts: 100 s alone on a loaded machine);
// and a file whose tests are over but whose process stays up (a registration or watch left
// open) fails after a grace period, naming what is still open (scripts/test-leak-watchdog.mjs).
const fileTimeout = Number(process.env.ROLLCALL_TEST_TIMEOUT_MS ?? 600_000);
const watchdog = join(root, 'scripts/test-leak-watchdog.mjs');

// Suites that assert time bounds or load the machine on purpose do not share the two cores with
// the rest: each group runs after the previous one, the groups in order, the files of one group
// side by side. Everything not listed is timing-insensitive (or bounds generously) and runs
// several at a time.
const phases = [
  {
    name: 'time bounds',
    concurrency: 3,
    match: ['consul/state-loss', 'consul/crash', 'consul/cluster-failover', 'consul/takeover', 'client/shutdown', 'client/consul'],
  },
  // The idle-stream test compares CPU and memory of an attacked run to an un-attacked one.
  { name: 'load', concurrency: 1, match: ['consul/scale', 'gossip/net-idle-streams', 'gossip/swim-flood', 'gossip/registry-fuzz'] },
  // The Go peer collects answers for a fixed window: a starved host answers late and looks absent.
  // Gossip peers probe on a one-second cycle and declare a starved node suspect within seconds.
  {
    name: 'Go peer windows',
    concurrency: 1,
    match: [
      'mdns/go-interop',
      'gossip/go-memberlist-peer',
      'gossip/serf-peer',
      'gossip/registry-serf',
      'gossip/swim-real-',
      'adapters/gossip',
      'gossip/registry-faults',
      'gossip/registry-keyring',
      'gossip/registry-ipv6',
      'gossip/registry-partition',
      'gossip/registry-go-micro.test',
    ],
  },
  // CPU and memory measured against a baseline window, and 2,000 lookups against a lookup timeout.
  { name: 'mdns hostile input', concurrency: 1, match: ['mdns/hostile', 'mdns/lookup-storm'] },
];
const claimed = new Set();
const groups = phases.map((phase) => {
  const group = files.filter((f) => !claimed.has(f) && phase.match.some((m) => f.includes(m)));
  for (const f of group) claimed.add(f);
  return { ...phase, files: group };
});
groups.push({
  name: 'everything else',
  concurrency: Number(process.env.ROLLCALL_TEST_CONCURRENCY ?? 4),
  files: files.filter((f) => !claimed.has(f)),
});

let failed = false;
for (const group of groups) {
  if (group.files.length === 0) continue;
  console.log(`\n=== ${group.name}: ${group.files.length} file(s), ${group.concurrency} at a time ===`);
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      watchdog,
      '--test',
      `--test-concurrency=${group.concurrency}`,
      `--test-timeout=${fileTimeout}`,
      ...group.files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
