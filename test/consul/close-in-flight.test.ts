/**
 * `close()` while calls are on their way to the agent: they end `CLOSED` (not retryable), never
 * `UNAVAILABLE`, which would tell the caller to try again on a registry that is gone.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { isRollcallError } from '../../src/index.js';
import { service, uniqueName } from '../conformance/helpers.js';
import { requirePeer, startDevAgent } from '../peers/consul.js';

const closedError = (e: unknown) => isRollcallError(e, 'CLOSED') && !(e as { retryable: boolean }).retryable;

test('close during register, lookup and listing on a real agent: the register rejects CLOSED, no call UNAVAILABLE', async (t) => {
  const agent = await requirePeer(t, () => startDevAgent());
  if (!agent) return;
  t.after(() => agent.stop());
  const registry = createConsulRegistry({ address: agent.address });
  const name = uniqueName('inflight');
  const calls = [
    registry.register(service(name, [{ id: `${name}-1`, port: 7901 }])),
    registry.getService(name),
    registry.listServices(),
    (registry.members as () => Promise<unknown>).call(registry),
  ];
  const settled = Promise.allSettled(calls);
  await registry.close();
  const outcomes = await settled;
  const [registered, ...reads] = outcomes;
  assert.equal(registered?.status, 'rejected', 'the register was cut short by close()');
  const e = (registered as PromiseRejectedResult).reason as { code?: string; message?: string };
  assert.ok(closedError(e), `the register rejects CLOSED, got ${e.code}: ${e.message}`);
  // A read the agent answered before the client closed keeps its answer; none may say "retry".
  for (const [i, o] of reads.entries()) {
    if (o.status === 'fulfilled') continue;
    const r = o.reason as { code?: string; message?: string };
    assert.ok(closedError(r) || r.code === 'NOT_FOUND', `read ${i} rejects CLOSED (or answered), got ${r.code}: ${r.message}`);
  }
  // Nothing was left behind: a registration that reached the agent was taken back.
  const res = await agent.request(`/v1/agent/service/${name}-1`);
  assert.equal(res.status, 404);
});

test('close during a register the agent has not answered: CLOSED at once, not after the request timeout', async (t) => {
  // An agent that accepts connections and never answers (a stalled agent).
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const registry = createConsulRegistry({ address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, requestTimeout: 3_000 });
  const name = uniqueName('stalled');
  const pending = registry.register(service(name, [{ id: `${name}-1`, port: 7902 }]));
  while (sockets.size === 0) await new Promise((r) => setTimeout(r, 5));
  const closedAt = performance.now();
  // close() itself waits for the take-back of the registration (bounded by the request timeout).
  const closing = registry.close();
  await assert.rejects(pending, (e) => {
    assert.ok(closedError(e), `rejects CLOSED, got ${(e as { code?: string }).code}: ${(e as Error).message}`);
    return true;
  });
  const rejectedAfter = performance.now() - closedAt;
  assert.ok(rejectedAfter < 1_000, `the register ended with close() (${rejectedAfter.toFixed(0)} ms), not at its timeout`);
  await closing;
});
