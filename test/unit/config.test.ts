import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { availableKinds, createRegistry, isRollcallError, parseRegistryUrl, resolveConfig } from '../../src/index.js';

describe('config', () => {
  it('kind: option beats ROLLCALL_REGISTRY beats MICRO_REGISTRY beats the mdns default', () => {
    const env = { ROLLCALL_REGISTRY: 'consul', MICRO_REGISTRY: 'gossip' };
    assert.equal(resolveConfig({ kind: 'memory' }, env).kind, 'memory');
    assert.deepEqual([resolveConfig(undefined, env).kind, resolveConfig(undefined, env).source], ['consul', 'ROLLCALL_REGISTRY']);
    assert.deepEqual(
      [resolveConfig(undefined, { MICRO_REGISTRY: 'gossip' }).kind, resolveConfig(undefined, { MICRO_REGISTRY: 'gossip' }).source],
      ['gossip', 'MICRO_REGISTRY'],
    );
    assert.deepEqual([resolveConfig(undefined, {}).kind, resolveConfig(undefined, {}).source], ['mdns', 'default']);
  });

  it('address: from ROLLCALL_REGISTRY_ADDRESS, else MICRO_REGISTRY_ADDRESS (comma separated); an explicit address wins', () => {
    assert.deepEqual(
      resolveConfig(undefined, { MICRO_REGISTRY: 'consul', MICRO_REGISTRY_ADDRESS: '10.0.0.1:8500, 10.0.0.2:8500' }).options.address,
      ['10.0.0.1:8500', '10.0.0.2:8500'],
    );
    assert.deepEqual(resolveConfig(undefined, { ROLLCALL_REGISTRY_ADDRESS: 'a:1', MICRO_REGISTRY_ADDRESS: 'b:2' }).options.address, [
      'a:1',
    ]);
    assert.equal(resolveConfig({ kind: 'consul', address: 'c:3' }, { ROLLCALL_REGISTRY_ADDRESS: 'a:1' }).options.address, 'c:3');
  });

  it('URLs: consul with dc, gossip seed lists, mdns, memory names; the environment may hold a URL', () => {
    assert.deepEqual(parseRegistryUrl('consul://10.0.0.2:8500?dc=eu'), {
      kind: 'consul',
      options: { address: ['10.0.0.2:8500'], datacenter: 'eu' },
    });
    assert.deepEqual(parseRegistryUrl('gossip://10.0.0.5:7946,10.0.0.6:7946'), {
      kind: 'gossip',
      options: { address: ['10.0.0.5:7946', '10.0.0.6:7946'] },
    });
    assert.deepEqual(parseRegistryUrl('mdns://'), { kind: 'mdns', options: {} });
    assert.deepEqual(parseRegistryUrl('memory://shared'), { kind: 'memory', options: { name: 'shared' } });
    assert.deepEqual(resolveConfig(undefined, { ROLLCALL_REGISTRY: 'memory://from-env' }).options, { name: 'from-env' });
  });

  it('bad input: unknown kinds and parameters are typed errors that list what exists; tokens are not echoed', () => {
    assert.throws(
      () => parseRegistryUrl('etcd://x:1'),
      (e) => isRollcallError(e, 'UNSUPPORTED') && /available: memory/.test((e as Error).message),
    );
    assert.throws(
      () => parseRegistryUrl('consul://x:1?bogus=1'),
      (e) => isRollcallError(e, 'INVALID_OPTIONS') && /known: dc/.test((e as Error).message),
    );
    assert.throws(
      () => parseRegistryUrl('not a url?token=s3cret'),
      (e) => isRollcallError(e, 'INVALID_OPTIONS') && !(e as Error).message.includes('s3cret'),
    );
    assert.throws(
      () => resolveConfig(undefined, { ROLLCALL_REGISTRY: 'zookeeper' }),
      (e) => isRollcallError(e, 'UNSUPPORTED') && /ROLLCALL_REGISTRY/.test((e as Error).message),
    );
  });

  it('createRegistry: a kind this build lacks fails naming the kinds that exist', async () => {
    const missing = (['mdns', 'gossip', 'consul'] as const).filter((k) => !availableKinds().includes(k));
    for (const kind of missing) {
      await assert.rejects(
        createRegistry({ kind }),
        (e) => isRollcallError(e, 'UNSUPPORTED') && /available: .*memory/.test((e as Error).message),
      );
    }
  });

  it('createRegistry: the default logs once, at info, that it fell back', async () => {
    const lines: string[] = [];
    const logger = { debug() {}, info: (_o: object, m?: string) => lines.push(m ?? ''), warn() {}, error() {} };
    // The default is mdns: an interface that does not exist makes it fail before it opens a socket,
    // so this test never touches the machine's network (mDNS tests run only inside namespaces).
    const offline = { logger, interfaces: ['rollcall-no-such-interface'] } as { logger: typeof logger };
    await createRegistry(offline, { MICRO_REGISTRY: '' }).then(
      (r) => r.close(),
      () => {},
    );
    await createRegistry(offline, {}).then(
      (r) => r.close(),
      () => {},
    );
    assert.equal(lines.filter((l) => /using mdns/.test(l)).length, 1);
  });

  it('createRegistry: memory from options, URL and environment are the same store', async () => {
    const a = await createRegistry({ kind: 'memory', name: 'cfg-shared' });
    const b = await createRegistry('memory://cfg-shared');
    const c = await createRegistry(undefined, { ROLLCALL_REGISTRY: 'memory://cfg-shared' });
    await a.register({ name: 'cfg', nodes: [{ address: '10.1.1.1:80' }] });
    assert.equal((await b.getService('cfg')).length, 1);
    assert.equal((await c.getService('cfg')).length, 1);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});
