import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { consulRequest, PeerUnavailableError, requirePeer, startDevAgent } from './consul.js';
import { startCluster } from './consul-cluster.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const register = (id: string, name: string) => ({
  method: 'PUT',
  body: { ID: id, Name: name, Address: '127.0.0.1', Port: 8080, Check: { TTL: '30s' } },
});

describe('requirePeer', () => {
  test('fails instead of skipping under CI=true', async (t) => {
    const saved = process.env.CI;
    process.env.CI = 'true';
    try {
      await assert.rejects(
        requirePeer(t, () => Promise.reject(new PeerUnavailableError('consul', 'simulated'))),
        PeerUnavailableError,
      );
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });
});

describe('consul dev agent', () => {
  test('starts on its own ports, answers, and cleans up on stop', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    try {
      t.diagnostic(`dev agent ready in ${agent.startupMs.toFixed(0)} ms at ${agent.address}`);
      assert.match(agent.address, /^http:\/\/127\.0\.0\.1:\d+$/);
      const self = await agent.request('/v1/agent/self');
      assert.equal(self.status, 200);
      assert.equal(self.json<{ Config: { Version: string } }>().Config.Version, '1.8.7');

      assert.equal((await agent.request('/v1/agent/service/register', register('web-1', 'web'))).status, 200);
      assert.equal((await agent.request('/v1/agent/check/pass/service:web-1', { method: 'PUT' })).status, 200);
      const health = await agent.request('/v1/health/service/web?passing');
      assert.equal(health.status, 200);
      assert.deepEqual(
        health.json<Array<{ Service: { ID: string } }>>().map((e) => e.Service.ID),
        ['web-1'],
      );
      assert.ok(existsSync(agent.logFile));
    } finally {
      await agent.stop();
    }
    assert.equal(isAlive(agent.pid), false);
    assert.equal(existsSync(agent.dir), false);
  });

  test('restart() brings up an empty agent on the same ports', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    try {
      assert.equal((await agent.request('/v1/agent/service/register', register('web-1', 'web'))).status, 200);
      const before = { address: agent.address, ports: agent.ports, pid: agent.pid };

      await agent.kill();
      assert.equal(isAlive(before.pid), false);
      await assert.rejects(consulRequest(`${before.address}/v1/status/leader`, { timeoutMs: 1_000 }));

      const t0 = performance.now();
      await agent.restart();
      t.diagnostic(`same-ports restart ready in ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(agent.address, before.address);
      assert.deepEqual(agent.ports, before.ports);
      assert.notEqual(agent.pid, before.pid);
      const health = await agent.request('/v1/health/service/web');
      assert.equal(health.status, 200);
      assert.deepEqual(health.json(), []);
    } finally {
      await agent.stop();
    }
  });

  test('ACL mode denies anonymous writes and scopes tokens to one service', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent({ acl: true }));
    if (!agent) return;
    try {
      const anon = await agent.request('/v1/agent/service/register', register('web-1', 'web'));
      assert.equal(anon.status, 403);
      assert.match(anon.text, /^Permission denied/);
      const bogus = await agent.request('/v1/agent/service/register', {
        ...register('web-1', 'web'),
        token: '5a4d1e3c-0000-4000-8000-000000000000',
      });
      assert.equal(bogus.status, 403);
      assert.match(bogus.text, /ACL not found/);

      const token = await agent.createServiceToken('web');
      assert.equal((await agent.request('/v1/agent/service/register', { ...register('web-1', 'web'), token })).status, 200);
      assert.equal((await agent.request('/v1/agent/check/pass/service:web-1', { method: 'PUT', token })).status, 200);
      const other = await agent.request('/v1/agent/service/register', { ...register('api-1', 'api'), token });
      assert.equal(other.status, 403);

      const seen = await agent.request('/v1/health/service/web?passing', { token });
      assert.deepEqual(
        seen.json<Array<{ Service: { ID: string } }>>().map((e) => e.Service.ID),
        ['web-1'],
      );
      // Reads without permission are filtered, not refused.
      const hidden = await agent.request('/v1/health/service/web');
      assert.equal(hidden.status, 200);
      assert.deepEqual(hidden.json(), []);
    } finally {
      await agent.stop();
    }
  });

  test('TLS mode serves HTTPS only, verified with its own CA', async (t) => {
    const agent = await requirePeer(t, () => startDevAgent({ tls: true }));
    if (!agent) return;
    try {
      assert.match(agent.address, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(agent.ca?.includes('BEGIN CERTIFICATE'));
      const leader = await agent.request('/v1/status/leader');
      assert.equal(leader.status, 200);
      assert.notEqual(leader.json(), '');
      await assert.rejects(consulRequest(`${agent.address}/v1/status/leader`), /certificate/);
      const plain = await consulRequest(`${agent.address.replace('https:', 'http:')}/v1/status/leader`);
      assert.equal(plain.status, 400);
    } finally {
      await agent.stop();
    }
  });
});

describe('consul 3-server cluster', () => {
  test('elects a leader and a new one after SIGKILL of the leader', async (t) => {
    const cluster = await requirePeer(t, () => startCluster({ size: 3 }));
    if (!cluster) return;
    try {
      t.diagnostic(`cluster leader agreed after ${cluster.electionMs.toFixed(0)} ms`);
      assert.deepEqual(
        cluster.servers.map((s) => s.ip),
        ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
      );
      const first = await cluster.leader();
      assert.ok(first !== undefined);

      const t0 = performance.now();
      await cluster.kill(first);
      const next = await cluster.waitForLeader({ not: first, timeoutMs: 20_000 });
      t.diagnostic(`new leader s${next + 1} after ${(performance.now() - t0).toFixed(0)} ms`);
      assert.notEqual(next, first);
      assert.equal(cluster.servers[first]?.alive, false);

      const survivor = cluster.servers.find((s) => s.alive && s.index !== next) ?? cluster.servers[next];
      assert.ok(survivor);
      const reg = await consulRequest(`${survivor.address}/v1/agent/service/register`, register('web-1', 'web'));
      assert.equal(reg.status, 200);
    } finally {
      await cluster.stop();
    }
  });
});
