/** The child-process driver itself: every call crosses the process boundary and errors keep their codes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRollcallError } from '../../src/index.js';
import { Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from './remote.js';

describe('child-process driver', { timeout: 60_000 }, () => {
  it('drives a registry in another process: register, lookup, watch, deregister, stats, close', async () => {
    const remote = await spawnRegistry({ options: { kind: 'memory', name: 'driver' } });
    try {
      assert.notEqual(remote.pid, process.pid);
      assert.equal(remote.kind, 'memory');
      const rec = new Recorder(remote.watch({ service: 'greeter' }));
      await rec.watcher.synced;
      const reg = await remote.register({ name: 'greeter', nodes: [{ id: 'g1', address: '10.0.0.1:80' }] }, { ttl: 5_000 });
      assert.equal(reg.service.nodes[0]?.id, 'g1');
      await rec.until((r) => r.nodeIds('greeter').length === 1, 5_000, 'create over the driver');
      assert.equal((await remote.getService('greeter'))[0]?.nodes[0]?.address, '10.0.0.1:80');
      assert.deepEqual(
        (await remote.listServices()).map((s) => s.name),
        ['greeter'],
      );
      assert.equal((await remote.remoteStats()).registrations, 1);
      await assert.rejects(remote.getService('nope'), (e) => isRollcallError(e, 'NOT_FOUND'));
      await assert.rejects(remote.register({ name: '', nodes: [] }), (e) => isRollcallError(e, 'INVALID_SERVICE'));
      await reg.deregister();
      await rec.until((r) => r.nodeIds('greeter').length === 0, 5_000, 'delete over the driver');
      await rec.stop();
      assert.equal((await remote.remoteStats()).watchers, 0, 'unwatch reached the child');
    } finally {
      await remote.close();
    }
  });

  it('kill: SIGKILL ends the child at once; later calls reject UNAVAILABLE and open watches end', async () => {
    const remote = await spawnRegistry({ options: 'memory://killed' });
    const watcher = remote.watch();
    await watcher.synced;
    await remote.kill();
    assert.throws(() => process.kill(remote.pid, 0), { code: 'ESRCH' });
    assert.equal((await watcher.next()).done, true);
    await assert.rejects(remote.getService('x'), (e) => isRollcallError(e, 'UNAVAILABLE'));
  });
});
