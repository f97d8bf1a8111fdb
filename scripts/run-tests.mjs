#!/usr/bin/env node
// Runs every test file once: provisions the real peers first (Consul, LAN tools, avahi, Go),
// then hands all test files to node's test runner, several files at a time, because most of
// the wall time is spent waiting on real networks, not on the CPU.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
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

const filter = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => relative(root, join(root, 'test', f)))
  .filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)))
  .sort();

const concurrency = Number(process.env.ROLLCALL_TEST_CONCURRENCY ?? 4);
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
