/**
 * Answers larger than the call can legitimately return: a hostile or broken HTTP server (a proxy,
 * something else on the agent's port) answers with bodies of tens or hundreds of megabytes. Each
 * call must end in a typed error, and what it costs must stay within what the largest legitimate
 * answer costs: peak memory of a child process doing one lookup, compared in the same test with
 * the same lookup answered legitimately near the limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { isRollcallError, type Registry } from '../../src/index.js';
import { type FakeAgent, startFakeAgent } from './fake-agent.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'response-size.child.ts');
const hex = (s: string) => deflateSync(Buffer.from(s)).toString('hex');
const MiB = 1 << 20;

/** One health entry the way Consul 1.8 writes a rollcall node with a few endpoints (about 5 KiB). */
function entry(name: string, i: number): string {
  const tags = [
    `t-${hex(JSON.stringify({ protocol: 'http' }))}`,
    ...Array.from(
      { length: 8 },
      (_, e) => `e-${hex(JSON.stringify({ name: `Svc.Call${e}-${i}`, request: null, response: null, metadata: {} }))}`,
    ),
    `v-${hex('1.0.0')}`,
  ];
  return JSON.stringify({
    Node: { ID: `node-${i}`, Node: `n${i}`, Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: { lan: '10.0.0.1' }, Meta: {} },
    Service: { ID: `${name}-${i}`, Service: name, Tags: tags, Address: '10.0.0.1', Port: 1000 + (i % 60_000), ModifyIndex: 5 },
    Checks: [
      { Node: `n${i}`, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Output: 'Agent alive and reachable' },
      { Node: `n${i}`, CheckID: `service:${name}-${i}`, Status: 'passing', ServiceID: `${name}-${i}`, ServiceTags: tags },
    ],
  });
}

/** Streams a health answer of about `bytes` bytes without holding it. */
function serveHealth(res: http.ServerResponse, name: string, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '7' });
  let sent = 1;
  let i = 0;
  res.write('[');
  const pump = () => {
    while (sent < bytes) {
      const chunk = (i === 0 ? '' : ',') + entry(name, i++);
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end(']');
  };
  res.on('error', () => {});
  pump();
}

let server: FakeAgent;
let address = '';
/** Service name -> size of the health answer served for it. */
const sizes = new Map<string, number>();
let small = '';
const registries: Registry[] = [];

before(async () => {
  server = await startFakeAgent((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://x');
    const health = /^\/v1\/health\/service\/(.+)$/.exec(url.pathname);
    if (health) return serveHealth(res, decodeURIComponent(health[1] as string), sizes.get(decodeURIComponent(health[1] as string)) ?? 0);
    // Anything else (register, check pass, agent service) answers with `small` bytes of text.
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(small);
  });
  address = server.address;
});
after(async () => {
  await Promise.allSettled(registries.map((r) => r.close()));
  await server.close();
});

function lookupInChild(name: string): Promise<{ outcome: string; grownKiB: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', child, address, name],
      { timeout: 120_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`child failed: ${error.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string));
      },
    );
  });
}

describe('consul: answer size', () => {
  test('a 50 MB and a 500 MB health answer: BAD_RESPONSE, at no more memory than a legitimate answer near the limit', async () => {
    sizes.set('legit', 12 * MiB);
    sizes.set('huge', 50 * MiB);
    sizes.set('vast', 500 * MiB);
    const legit = await lookupInChild('legit');
    const huge = await lookupInChild('huge');
    const vast = await lookupInChild('vast');
    const mb = (k: number) => `${(k / 1024).toFixed(1)} MB`;
    process.stderr.write(
      `peak memory growth: legitimate 12 MiB answer ${mb(legit.grownKiB)}; 50 MB answer ${mb(huge.grownKiB)} (${huge.outcome.slice(0, 60)}); ` +
        `500 MB answer ${mb(vast.grownKiB)} (${vast.outcome.slice(0, 60)})\n`,
    );
    assert.match(legit.outcome, /^ok \d+ nodes$/, 'a legitimate 12 MiB answer is read');
    for (const [label, r] of [
      ['50 MB', huge],
      ['500 MB', vast],
    ] as const) {
      assert.match(r.outcome, /^BAD_RESPONSE: .*over 16 MiB/, `the ${label} answer is refused with a typed error naming the limit`);
      const ratio = r.grownKiB / legit.grownKiB;
      assert.ok(
        ratio <= 1,
        `the ${label} answer cost ${ratio.toFixed(2)}x the legitimate one (${mb(r.grownKiB)} vs ${mb(legit.grownKiB)})`,
      );
    }
  });

  test('each endpoint has its own limit: a 1 MiB answer to a register or heartbeat is refused', async () => {
    small = 'x'.repeat(MiB);
    const registry = createConsulRegistry({ address, requestTimeout: 5_000 });
    registries.push(registry);
    await assert.rejects(
      registry.register({ name: 'web', nodes: [{ id: 'web-1', address: '10.0.0.1:80' }] }),
      (e) => isRollcallError(e, 'BAD_RESPONSE') && /over 64 KiB/.test((e as Error).message),
    );
    small = '';
    // A small answer is fine, and a lookup may be larger than a write.
    sizes.set('fine', 2 * MiB);
    assert.ok((await registry.getService('fine')).length > 0);
  });
});
