/**
 * The request timeout is the agent's time to answer a call, not the time a call waits behind the
 * registry's own calls: a burst larger than the timeout allows drains at the agent's pace, while a
 * stalled agent still fails every queued call within one timeout.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, describe, test } from 'node:test';
import { Gate } from '../../src/adapters/consul/gate.js';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { isRollcallError } from '../../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stalled = () => new Error('stalled');

describe('gate', () => {
  // The gate's timers never hold a process open (its sockets do); here nothing else would.
  const keepAlive = setInterval(() => {}, 1_000);
  after(() => clearInterval(keepAlive));

  test('gate: slots first, then first come first served', async () => {
    const gate = new Gate(2, 1_000);
    const order: number[] = [];
    const releases = await Promise.all([gate.acquire(undefined, stalled), gate.acquire(undefined, stalled)]);
    const queued = [3, 4, 5].map(async (n) => {
      const release = await gate.acquire(undefined, stalled);
      order.push(n);
      return release;
    });
    assert.equal(gate.waiting, 3);
    releases[0]?.();
    releases[0]?.(); // twice frees one slot only
    (await queued[0])?.();
    releases[1]?.();
    for (const release of await Promise.all(queued)) release();
    assert.deepEqual(order, [3, 4, 5]);
    assert.equal(gate.waiting, 0);
  });

  test('gate: a queued call waits as long as the agent keeps answering, and gives up when it stops', async () => {
    // Answers every 20 ms for 1.5 s against a patience of 1 s: even a loaded machine keeps the gaps
    // well below the patience.
    const gate = new Gate(1, 1_000);
    const hold = await gate.acquire(undefined, stalled);
    const t0 = performance.now();
    let settled = false;
    const waiting = gate.acquire(undefined, stalled).finally(() => {
      settled = true;
    });
    waiting.catch(() => {});
    while (performance.now() - t0 < 1_500) {
      await sleep(20);
      gate.answered();
    }
    const answeredUntil = performance.now();
    assert.equal(settled, false, 'still queued while the agent answers');
    await assert.rejects(waiting, /stalled/);
    const quiet = performance.now() - answeredUntil;
    assert.ok(quiet >= 950 && quiet < 2_500, `gave up ${quiet.toFixed(0)} ms after the last answer`);
    hold();
    (await gate.acquire(undefined, stalled))();
  });

  test('gate: an abort leaves the queue', async () => {
    const gate = new Gate(1, 10_000);
    const hold = await gate.acquire(undefined, stalled);
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal, stalled);
    controller.abort();
    await assert.rejects(waiting, { name: 'AbortError' });
    assert.equal(gate.waiting, 0);
    hold();
  });
});

/** An HTTP server that answers one request at a time, each after `ms`, like an agent serializing writes. */
async function serialServer(ms: number | undefined): Promise<{ address: string; close(): Promise<void> }> {
  let chain = Promise.resolve();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    if (ms === undefined) return; // silent
    chain = chain.then(async () => {
      await sleep(ms);
      res.end(req.url?.startsWith('/v1/health/') ? '[]' : '');
    });
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('client: request timeout and queueing', () => {
  test('burst: 30 registrations through one connection outlast a 1 s timeout and all succeed', async (t) => {
    const agent = await serialServer(40);
    // maxConnections 4 leaves one request connection: 60 calls of 40 ms each take 2.4 s.
    const registry = createConsulRegistry({ address: agent.address, requestTimeout: 1_000, maxConnections: 4 });
    t.after(async () => {
      await registry.close().catch(() => {});
      await agent.close();
    });
    const t0 = performance.now();
    const regs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        registry.register({ name: `burst-${i}`, nodes: [{ id: `burst-${i}-n`, address: '10.0.0.1:80' }] }, { ttl: 60_000 }),
      ),
    );
    const elapsed = performance.now() - t0;
    assert.equal(regs.length, 30);
    assert.ok(elapsed > 2_000, `the burst took ${elapsed.toFixed(0)} ms, twice the timeout`);
  });

  test('stall: calls queued behind one to a silent agent fail together, within about one timeout', async (t) => {
    const agent = await serialServer(undefined);
    const registry = createConsulRegistry({ address: agent.address, requestTimeout: 300, maxConnections: 4 });
    t.after(async () => {
      await registry.close().catch(() => {});
      await agent.close();
    });
    const t0 = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => registry.getService(`web-${i}`)));
    const elapsed = performance.now() - t0;
    for (const r of results) assert.ok(r.status === 'rejected' && isRollcallError(r.reason, 'UNAVAILABLE'), String(r));
    // Not one timeout after another (5 x 300 ms): the queued calls give up with the first.
    assert.ok(elapsed >= 290 && elapsed < 1_200, `all failed after ${elapsed.toFixed(0)} ms`);
  });
});
