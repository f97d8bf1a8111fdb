// Preloaded into every test file by scripts/run-tests.mjs: once a file's tests and its teardown
// hooks are over, the process should exit by itself. If something the file opened is still open
// (a registration, a watch, a socket, a child process, a timer), the process would stay up and the
// run would hang; instead, after a grace period the file fails, naming what is still open.
import { after } from 'node:test';

const grace = Number(process.env.ROLLCALL_LEAK_GRACE_MS ?? 60_000);

// Root-level hooks run in the order they were added and this one comes first, so the grace
// period also covers the file's own teardown hooks (stopping agents, deleting namespaces).
after(() => {
  const timer = setTimeout(() => {
    const counts = new Map();
    for (const resource of process.getActiveResourcesInfo()) counts.set(resource, (counts.get(resource) ?? 0) + 1);
    const open = [...counts].map(([resource, n]) => (n > 1 ? `${resource} x${n}` : resource)).join(', ');
    process.stderr.write(
      `\nLEAK: ${process.argv[1]} finished its tests ${grace / 1000} s ago and is still running: something it opened is still ` +
        `open (a registration, a watch, a socket, a child process, a timer). Active resources: ${open}. ` +
        'Close what a test opens in t.after() (registry.close(), watcher.stop()).\n',
    );
    process.exit(1);
  }, grace);
  // Only a leak keeps the process alive long enough for this to fire.
  timer.unref();
});
