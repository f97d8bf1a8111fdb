/**
 * What a broken or hostile endpoint does to the adapter: a tiny HTTP server on 127.0.0.1 answers
 * garbage, wrong shapes and errors. Every case must end in a typed error (or a dropped, counted
 * entry), never a crash, and no loop may spin.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { isRollcallError, type Registry } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { type FakeAgent, startFakeAgent } from './fake-agent.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = (_req, res) => res.end('[]');
const seen: string[] = [];
let server: FakeAgent;
let address = '';
const registries: Registry[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

function open(options: Record<string, unknown> = {}): Registry {
  const r = createConsulRegistry({ address, requestTimeout: 1_000, ...options });
  registries.push(r);
  return r;
}

const json = (res: http.ServerResponse, body: unknown, index?: number, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json', ...(index === undefined ? {} : { 'x-consul-index': String(index) }) });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

const entry = (id: string, port: unknown = 80) => ({
  Node: { Node: 'n1', Address: '10.0.0.1' },
  Service: { ID: id, Service: 'web', Tags: [], Port: port, Address: '', ModifyIndex: 5 },
  Checks: [{ CheckID: `service:${id}`, Status: 'passing' }],
});

const code = (c: string, message?: RegExp) => (e: unknown) =>
  isRollcallError(e, c as never) && (!message || message.test((e as Error).message));

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startFakeAgent((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  address = server.address;
});
after(async () => {
  await Promise.allSettled(registries.map((r) => r.close()));
  await server.close();
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejection');
});

describe('consul: bad answers', () => {
  test('lookup: not JSON / wrong shape -> BAD_RESPONSE; bad entries are dropped and counted', async () => {
    const r = open();
    handler = (_req, res) => res.end('<html>proxy error</html>');
    await assert.rejects(r.getService('web'), code('BAD_RESPONSE', /not JSON/));
    handler = (_req, res) => json(res, { not: 'an array' });
    await assert.rejects(r.getService('web'), code('BAD_RESPONSE', /expected an array/));
    handler = (_req, res) => json(res, null);
    await assert.rejects(r.getService('web'), code('BAD_RESPONSE'));
    handler = (_req, res) =>
      json(res, [
        entry('ok-1'),
        entry('bad-port', 'eighty'),
        { Service: 'not an object' },
        7,
        null,
        { ...entry('other'), Service: { ...entry('other').Service, Service: 'not-web' } },
        { ...entry('bad-checks'), Checks: 'passing' },
        { ...entry('critical'), Checks: [{ Status: 'critical' }] },
        { ...entry('future'), Node: { Node: 'n2', Address: '10.0.0.2', PeerName: '', Locality: { Region: 'x' } }, Extra: [1] },
      ]);
    const before = r.stats().dropped;
    const found = await r.getService('web');
    assert.deepEqual(found.flatMap((s) => s.nodes.map((n) => `${n.id} ${n.address}`)).sort(), ['future 10.0.0.2:80', 'ok-1 10.0.0.1:80']);
    assert.ok(r.stats().dropped >= before + 1, 'dropped entries are counted');
    handler = (_req, res) => json(res, ['web']);
    await assert.rejects(r.listServices(), code('BAD_RESPONSE', /expected an object/));
  });

  test('status codes: 500/503/429 -> UNAVAILABLE (retryable), 403 -> PERMISSION_DENIED, 400 on register -> INVALID_SERVICE', async () => {
    const r = open();
    for (const status of [500, 503, 429]) {
      handler = (_req, res) => json(res, 'No cluster leader', undefined, status);
      await assert.rejects(
        r.getService('web'),
        (e: unknown) => isRollcallError(e, 'UNAVAILABLE') && (e as { retryable: boolean }).retryable,
      );
    }
    handler = (_req, res) => json(res, 'Permission denied', undefined, 403);
    await assert.rejects(r.getService('web'), code('PERMISSION_DENIED'));
    handler = (_req, res) => json(res, 'Invalid service address', undefined, 400);
    await assert.rejects(
      r.register({ name: 'web', nodes: [{ address: '10.0.0.1:80' }] }),
      code('INVALID_SERVICE', /Invalid service address/),
    );
    handler = (_req, res) => json(res, 'what', undefined, 418);
    await assert.rejects(r.getService('web'), code('BAD_RESPONSE', /418/));
  });

  test('not HTTP at all -> BAD_RESPONSE', async (t) => {
    const garbage = net.createServer((socket) => socket.resume().end('SSH-2.0-OpenSSH\r\n\r\n'));
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => garbage.close(resolve)));
    const r = open({ address: `127.0.0.1:${(garbage.address() as net.AddressInfo).port}` });
    await assert.rejects(r.getService('web'), code('BAD_RESPONSE', /not valid HTTP/));
  });

  test('a dead address -> UNAVAILABLE at once; a silent one -> UNAVAILABLE within the request timeout', async (t) => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const dead = open({ address: `127.0.0.1:${deadPort}` });
    let t0 = performance.now();
    await assert.rejects(dead.register({ name: 'web', nodes: [{ address: '10.0.0.1:80' }] }), (e: unknown) => {
      assert.ok(isRollcallError(e, 'UNAVAILABLE') && e.retryable, String(e));
      assert.match((e as Error).message, /cannot reach Consul \(ECONNREFUSED\)/);
      return true;
    });
    assert.ok(performance.now() - t0 < 500);

    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const mute = open({ address: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`, requestTimeout: 300 });
    t0 = performance.now();
    await assert.rejects(mute.getService('web'), code('UNAVAILABLE', /no answer within 300 ms/));
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 290 && elapsed < 600, `gave up after ${elapsed.toFixed(0)} ms`);
    // Several agents share one deadline.
    const both = open({
      address: [`127.0.0.1:${(silent.address() as net.AddressInfo).port}`, `127.0.0.1:${deadPort}`],
      requestTimeout: 300,
    });
    t0 = performance.now();
    await assert.rejects(both.getService('web'), code('UNAVAILABLE'));
    assert.ok(performance.now() - t0 < 600);
  });

  test('blocking queries: index rules, and no spinning on errors or empty wake-ups', async () => {
    const r = open({ wait: 2_000 });
    const indexes: string[] = [];
    let n = 0;
    // 10, then 20, then backwards to 5 (reset to 0), then an error carrying index 1, then 30 forever.
    const script = [10, 20, 5, 'error', 7, 30];
    handler = (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!url.pathname.startsWith('/v1/health/service/')) return json(res, {});
      indexes.push(url.searchParams.get('index') ?? 'none');
      const step = script[Math.min(n++, script.length - 1)];
      if (step === 'error') return json(res, 'rpc error', 1, 500);
      // Same index forever at the end: answers that return at once without news.
      json(res, [entry('ok-1')], step as number);
    };
    const rec = new Recorder(r.watch({ service: 'web' }));
    await rec.watcher.synced;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await rec.stop();
    assert.deepEqual(rec.nodeIds('web'), ['ok-1']);
    assert.deepEqual(indexes.slice(0, 6), ['0', '10', '20', '0', '0', '7']);
    assert.ok(indexes.slice(6).every((i) => i === '30'));
    // Same-index answers back off exponentially: a handful in 2 s, not hundreds.
    assert.ok(indexes.length <= 14, `${indexes.length} requests in 2 s`);

    let errors = 0;
    handler = (_req, res) => {
      errors++;
      json(res, 'boom', undefined, 500);
    };
    const failing = r.watch({ service: 'other' });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    failing.stop();
    assert.ok(errors >= 3 && errors <= 10, `${errors} attempts in 2 s of errors`);
    assert.ok(r.stats().backendErrors >= errors);

    let missing = 0;
    handler = (_req, res) => {
      missing++;
      json(res, []); // a blocking answer without X-Consul-Index
    };
    const noIndex = r.watch({ service: 'third' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    noIndex.stop();
    assert.ok(missing >= 1 && missing <= 8, `${missing} attempts without an index`);
  });
});
