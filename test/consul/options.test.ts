/** ConsulOptions and Consul's environment variables: precedence, parsing, validation. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseAddress, resolveSettings } from '../../src/adapters/consul/settings.js';
import { createRegistry, isRollcallError, resolveConfig } from '../../src/index.js';

const invalid = (message: RegExp) => (e: unknown) => isRollcallError(e, 'INVALID_OPTIONS') && message.test((e as Error).message);

describe('consul options', () => {
  test('defaults: 127.0.0.1:8500 over HTTP, 8 connections (2 for requests), 5 min wait', () => {
    const s = resolveSettings({}, {});
    assert.deepEqual(s.agents, [{ origin: 'http://127.0.0.1:8500', label: '127.0.0.1:8500' }]);
    assert.equal(s.token, undefined);
    assert.equal(s.tls, undefined);
    assert.equal(s.consistency, 'default');
    assert.equal(s.requestConnections + s.watchConnections, 8);
    assert.equal(s.requestConnections, 2);
    assert.equal(s.wait, 300_000);
    assert.equal(s.requestTimeout, 10_000);
    assert.equal(s.includeWarning, false);
    assert.equal(s.maxResponseBytes, 16 << 20);
  });

  test('addresses: forms, lists, IPv6, schemes; duplicates collapse', () => {
    assert.deepEqual(parseAddress('10.0.0.1', false), { origin: 'http://10.0.0.1:8500', label: '10.0.0.1:8500' });
    assert.deepEqual(parseAddress('https://consul.internal:8501/', false), {
      origin: 'https://consul.internal:8501',
      label: 'consul.internal:8501',
    });
    assert.deepEqual(parseAddress('[::1]:8500', true), { origin: 'https://[::1]:8500', label: '[::1]:8500' });
    const s = resolveSettings({ address: ' 10.0.0.1:8500 , 10.0.0.2:8500,10.0.0.1:8500' }, {});
    assert.deepEqual(
      s.agents.map((a) => a.label),
      ['10.0.0.1:8500', '10.0.0.2:8500'],
    );
    assert.throws(() => parseAddress('unix:///var/run/consul.sock', false), invalid(/only http and https/));
    assert.throws(() => parseAddress('10.0.0.1:8500/v1', false), invalid(/host:port only/));
    assert.throws(() => resolveSettings({ address: [] }, {}), invalid(/at least one/));
  });

  test('environment: CONSUL_HTTP_* are used, explicit options win field by field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rollcall-consul-opts-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nfrom-file\n-----END CERTIFICATE-----\n');
      const env = {
        CONSUL_HTTP_ADDR: 'consul.env:8501',
        CONSUL_HTTP_TOKEN: 'env-token',
        CONSUL_HTTP_SSL: 'true',
        CONSUL_CACERT: ca,
        CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
      };
      const fromEnv = resolveSettings({}, env);
      assert.equal(fromEnv.agents[0]?.origin, 'https://consul.env:8501');
      assert.equal(fromEnv.token, 'env-token');
      assert.match(fromEnv.tls?.ca ?? '', /from-file/);
      assert.equal(fromEnv.tls?.servername, 'server.dc1.consul');
      assert.equal(fromEnv.tls?.rejectUnauthorized, true);

      const explicit = resolveSettings({ address: 'http://10.0.0.5:8500', token: 'mine', tls: false }, env);
      assert.equal(explicit.agents[0]?.origin, 'http://10.0.0.5:8500');
      assert.equal(explicit.token, 'mine');
      assert.equal(explicit.tls, undefined);
      const pem = '-----BEGIN CERTIFICATE-----\ninline\n-----END CERTIFICATE-----';
      assert.equal(resolveSettings({ tls: { ca: pem } }, env).tls?.ca, pem);
      assert.equal(resolveSettings({}, { ...env, CONSUL_HTTP_SSL_VERIFY: 'false' }).tls?.rejectUnauthorized, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('validation: each bad option names itself; a missing file names the path, never its contents', () => {
    assert.throws(() => resolveSettings({ consistency: 'eventual' as never }, {}), invalid(/consistency/));
    assert.throws(() => resolveSettings({ maxConnections: 3 }, {}), invalid(/maxConnections must be an integer >= 4/));
    assert.throws(() => resolveSettings({ maxResponseBytes: 1_000 }, {}), invalid(/maxResponseBytes must be an integer >= 65536/));
    assert.equal(resolveSettings({ maxResponseBytes: 64 << 20 }, {}).maxResponseBytes, 64 << 20);
    assert.throws(() => resolveSettings({ wait: 700_000 }, {}), invalid(/at most 600000/));
    assert.throws(() => resolveSettings({ datacenter: 'dc 1' }, {}), invalid(/datacenter/));
    assert.throws(() => resolveSettings({ token: 'a\nb' }, {}), invalid(/single-line/));
    assert.throws(
      () => resolveSettings({ tls: { ca: '/nonexistent/ca.pem' } }, {}),
      invalid(/tls\.ca: cannot read "\/nonexistent\/ca\.pem" \(ENOENT\)/),
    );
    assert.throws(() => resolveSettings({ tls: { cert: '-----BEGIN x' } }, {}), invalid(/needs its key/));
    assert.throws(() => resolveSettings({ checks: [{ interval: 1_000 }] }, {}), invalid(/exactly one of http or tcp/));
  });

  test('createRegistry: consul by options, by URL and by environment', async () => {
    const viaUrl = resolveConfig('consul://10.0.0.1:8500,10.0.0.2:8500?dc=eu&consistency=stale&tls=true');
    assert.equal(viaUrl.kind, 'consul');
    const s = resolveSettings(viaUrl.options, {});
    assert.deepEqual(
      s.agents.map((a) => a.origin),
      ['https://10.0.0.1:8500', 'https://10.0.0.2:8500'],
    );
    assert.equal(s.datacenter, 'eu');
    assert.equal(s.consistency, 'stale');
    const registry = await createRegistry({ kind: 'consul', address: '127.0.0.1:1' });
    assert.equal(registry.kind, 'consul');
    assert.equal(registry.capabilities.members, true);
    await registry.close();
    const fromEnv = await createRegistry(undefined, { MICRO_REGISTRY: 'consul', MICRO_REGISTRY_ADDRESS: '127.0.0.1:1' });
    assert.equal(fromEnv.kind, 'consul');
    await fromEnv.close();
  });
});
