/**
 * Graceful shutdown in real child processes on a real Consul agent: the goodbye is seen by another
 * process before the child exits, the child dies of the signal it got (re-raised), a second signal
 * ends it at once, and with the agent SIGSTOPped the helper still exits within its timeout.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMemoryRegistry } from '../../src/adapters/memory.js';
import { createRegistry, gracefulShutdown, isRollcallError, type Registry } from '../../src/index.js';
import { uniqueName } from '../conformance/helpers.js';
import { type DevAgent, requirePeer, startDevAgent } from '../peers/consul.js';
import { jsonLines, stopChild } from '../peers/lan.js';

const childEntry = fileURLToPath(new URL('./shutdown-child.ts', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: Array<{ step: string; at: number; signal?: string }>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startChild(agent: DevAgent, name: string, drain: number, timeout: number, mode: 'registrations' | 'close'): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', childEntry, agent.address, name, String(drain), String(timeout), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Child['lines'] = [];
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  jsonLines<Child['lines'][number]>(proc.stdout, (line) => {
    lines.push(line);
    if (line.step === 'ready') readyResolve();
  });
  const exit = once(proc, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    at: Date.now(),
  }));
  await Promise.race([ready, exit.then((e) => Promise.reject(new Error(`child exited before ready: ${JSON.stringify(e)}`)))]);
  return { proc, lines, exit };
}

describe('graceful shutdown', () => {
  const withAgent = async (t: Parameters<typeof requirePeer>[0]) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return undefined;
    const watcherRegistry = await createRegistry({ kind: 'consul', address: agent.address });
    const children: ChildProcess[] = [];
    t.after(async () => {
      try {
        process.kill(agent.pid, 'SIGCONT');
      } catch {}
      await Promise.allSettled(children.map((c) => stopChild(c, 500)));
      await watcherRegistry.close();
      await agent.stop();
    });
    return { agent, watcherRegistry, children };
  };

  for (const [signal, mode] of [
    ['SIGTERM', 'registrations'],
    ['SIGINT', 'close'],
  ] as const) {
    it(`${signal} (${mode} first): another process sees the delete before the child exits; the child dies of ${signal}`, async (t) => {
      const env = await withAgent(t);
      if (!env) return;
      const name = uniqueName('bye');
      const child = await startChild(env.agent, name, 1_000, 8_000, mode);
      env.children.push(child.proc);
      const watcher = env.watcherRegistry.watch({ service: name });
      let deletedAt: number | undefined;
      const seen = (async () => {
        for await (const event of watcher) {
          if (event.type === 'delete') {
            deletedAt = Date.now();
            return;
          }
        }
      })();
      await watcher.synced;
      await env.watcherRegistry.getService(name);
      const signalledAt = Date.now();
      child.proc.kill(signal);
      const exit = await child.exit;
      await Promise.race([seen, new Promise((r) => setTimeout(r, 2_000))]);
      watcher.stop();
      assert.equal(exit.signal, signal, `exit ${JSON.stringify(exit)}: the signal is re-raised`);
      assert.equal(exit.code, null);
      assert.ok(deletedAt !== undefined, 'the watcher saw the delete');
      assert.ok(deletedAt < exit.at, `delete seen ${exit.at - deletedAt} ms before the exit`);
      assert.ok(exit.at - signalledAt >= 1_000, 'the drain delay was honoured');
      assert.deepEqual(
        child.lines.map((l) => l.step),
        ['ready', 'signal', 'drained'],
      );
      await assert.rejects(env.watcherRegistry.getService(name), (e) => isRollcallError(e, 'NOT_FOUND'));
      t.diagnostic(`delete seen ${deletedAt - signalledAt} ms after ${signal}, exit after ${exit.at - signalledAt} ms`);
    });
  }

  it('a second signal ends the process at once, with that signal', async (t) => {
    const env = await withAgent(t);
    if (!env) return;
    const child = await startChild(env.agent, uniqueName('twice'), 20_000, 30_000, 'registrations');
    env.children.push(child.proc);
    child.proc.kill('SIGTERM');
    while (!child.lines.some((l) => l.step === 'signal')) await new Promise((r) => setTimeout(r, 10));
    const second = Date.now();
    child.proc.kill('SIGINT');
    const exit = await child.exit;
    assert.equal(exit.signal, 'SIGINT');
    assert.ok(exit.at - second < 1_000, `exited ${exit.at - second} ms after the second signal`);
    assert.ok(!child.lines.some((l) => l.step === 'drained'));
  });

  it('with the Consul agent SIGSTOPped, the helper exits within its timeout', async (t) => {
    const env = await withAgent(t);
    if (!env) return;
    const child = await startChild(env.agent, uniqueName('stuck'), 200, 2_000, 'registrations');
    env.children.push(child.proc);
    process.kill(env.agent.pid, 'SIGSTOP');
    const signalledAt = Date.now();
    child.proc.kill('SIGTERM');
    const exit = await child.exit;
    process.kill(env.agent.pid, 'SIGCONT');
    const took = exit.at - signalledAt;
    assert.equal(exit.signal, 'SIGTERM');
    assert.ok(took >= 1_900 && took < 3_000, `exited ${took} ms after SIGTERM (timeout 2000 ms)`);
  });
});

describe('graceful shutdown, in process', () => {
  it('runs the steps in order without exiting when exit is false, and validates options', async () => {
    const registry: Registry = createMemoryRegistry();
    const registration = await registry.register({ name: 'g', nodes: [{ id: 'a', address: '10.0.0.1:1' }] });
    const steps: string[] = [];
    const handle = gracefulShutdown({
      registry,
      registrations: [registration],
      drainDelay: 50,
      exit: false,
      signals: [],
      onDrained: async () => {
        steps.push(`drained, live: ${(await registry.getService('g').catch(() => [])).length}`);
      },
    });
    const t0 = performance.now();
    await handle.shutdown();
    assert.ok(performance.now() - t0 >= 45);
    assert.deepEqual(steps, ['drained, live: 0']);
    await assert.rejects(registry.getService('g'), (e) => isRollcallError(e, 'CLOSED'));
    assert.equal(handle.shutdown(), handle.shutdown());
    handle.dispose();
    assert.throws(
      () => gracefulShutdown({ registry, timeout: 0 }),
      (e) => isRollcallError(e, 'INVALID_OPTIONS'),
    );
  });
});
