/**
 * The lifetime rule, in real child processes: a live registration or a watch being iterated keeps
 * the process up as a listening server does; `close()` lets it go (the child exits by itself within
 * 2 s), and so does `keepAlive: false`. Regression: issue 16 item 8 (a register-only script exited
 * 0.6 s after register() without a goodbye; a watch-only script exited when Consul was unreachable).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, describe, it, type TestContext } from 'node:test';
import { requirePeer, startDevAgent } from '../peers/consul.js';
import { exited, stopChild, waitExit, waitForLine } from '../peers/process.js';

const indexUrl = new URL('../../src/index.ts', import.meta.url).href;
/** How long a child must stay up on its own to count as held (the old code let go after 0.23-0.6 s). */
const HELD_MS = 2_500;
const children = new Set<ChildProcess>();
after(() => Promise.all([...children].map((c) => stopChild(c))));

/**
 * Runs `body` in a child node with `registry` created from `options`; the child prints `ready` when
 * `body` has set up, and closes the registry on SIGUSR2 (a signal handler holds no process open).
 */
function child(options: object, body: string): ChildProcess {
  const source = `
    import { createRegistry } from ${JSON.stringify(indexUrl)};
    const registry = await createRegistry(${JSON.stringify(options)});
    process.on('SIGUSR2', () => registry.close().then(() => console.log('closed')));
    ${body}
  `;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

async function ready(proc: ChildProcess): Promise<void> {
  await waitForLine([proc.stdout, proc.stderr], /^ready$/, 20_000, 'the child to be ready');
}

/** Asserts the child stays up on its own for HELD_MS, then that close() lets it exit within 2 s. */
async function heldUntilClose(t: TestContext, proc: ChildProcess, what: string): Promise<void> {
  const exitedEarly = await waitExit(proc, HELD_MS);
  assert.equal(exitedEarly, false, `the child exited (code ${proc.exitCode}) under ${what}`);
  const started = performance.now();
  proc.kill('SIGUSR2');
  assert.equal(await waitExit(proc, 2_000), true, `the child was still up 2 s after close() (${what})`);
  t.diagnostic(`exited ${(performance.now() - started).toFixed(0)} ms after close()`);
  assert.equal(proc.exitCode, 0);
}

describe('process lifetime', () => {
  it('registration: a live registration holds the process; close() lets it exit within 2 s', async (t) => {
    const proc = child(
      { kind: 'memory' },
      `await registry.register({ name: 'held', nodes: [{ address: '10.0.0.1:80' }] }); console.log('ready');`,
    );
    await ready(proc);
    await heldUntilClose(t, proc, 'a live registration');
  });

  it('registration: keepAlive false lets the process exit under a live registration', async () => {
    const proc = child(
      { kind: 'memory', keepAlive: false },
      `await registry.register({ name: 'loose', nodes: [{ address: '10.0.0.1:80' }] }); console.log('ready');`,
    );
    await ready(proc);
    assert.equal(await waitExit(proc, 2_000), true, 'the child stayed up although keepAlive is false');
  });

  it('registration: deregister() lets the process go as close() does', async () => {
    const proc = child(
      { kind: 'memory' },
      `const reg = await registry.register({ name: 'once', nodes: [{ address: '10.0.0.1:80' }] }); await reg.deregister(); console.log('ready');`,
    );
    await ready(proc);
    assert.equal(await waitExit(proc, 2_000), true, 'the child stayed up with nothing registered');
  });

  it('watch: a watch being iterated holds the process, one opened but never iterated does not', async (t) => {
    const iterated = child({ kind: 'memory' }, `const w = registry.watch(); console.log('ready'); for await (const e of w) {}`);
    const idle = child({ kind: 'memory' }, `registry.watch({ service: 'x' }); console.log('ready');`);
    await Promise.all([ready(iterated), ready(idle)]);
    assert.equal(await waitExit(idle, 2_000), true, 'a watch nobody iterates held the process');
    await heldUntilClose(t, iterated, 'a watch being iterated');
  });

  it('consul: a watch-only script stays up while the agent is unreachable, and ends with close()', async (t) => {
    const port = await closedPort();
    const proc = child(
      { kind: 'consul', address: `127.0.0.1:${port}` },
      `const w = registry.watch({ service: 'api' }); console.log('ready'); for await (const e of w) {}`,
    );
    await ready(proc);
    await heldUntilClose(t, proc, 'a watch of an unreachable Consul');
  });

  it('consul: a register-only script stays up, and its close() says goodbye to the real agent', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    t.after(() => agent.stop());
    const proc = child(
      { kind: 'consul', address: agent.address },
      `await registry.register({ name: 'sidecar-db', nodes: [{ id: 'db-1', address: '127.0.0.1:5432' }] }, { ttl: 3000 }); console.log('ready');`,
    );
    await ready(proc);
    await heldUntilClose(t, proc, 'a live Consul registration');
    const res = await agent.request('/v1/agent/services');
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes('db-1'), `the goodbye removed the service from the agent: ${res.text}`);
    assert.equal(exited(proc), true);
  });
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
