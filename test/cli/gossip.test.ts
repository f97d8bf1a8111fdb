/**
 * The `rollcall` command on a real gossip cluster: two members on 127.0.0.2 and 127.0.0.3 in this
 * process (free ports, `local` preset), a service registered on one of them, and the CLI in a child
 * process joining through the other as a member of its own. Loopback only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRegistry, type Registry } from '../../src/index.js';
import { LiveCli, runCli, spawnCli } from './cli-process.js';

type Json = Record<string, unknown>;

const until = async (check: () => Promise<boolean>, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('rollcall CLI on gossip', { timeout: 90_000 }, () => {
  let a: Registry;
  let b: Registry;
  let seed: string;

  before(async () => {
    a = await createRegistry({ kind: 'gossip', bind: '127.0.0.2', port: 0, preset: 'local', name: 'cli-test-a' });
    seed = String(a.stats().address);
    b = await createRegistry(`gossip://${seed}?bind=127.0.0.3&port=0&preset=local&name=cli-test-b`);
    await b.register({
      name: 'greeter',
      version: '1.0.0',
      nodes: [{ id: 'greeter-a', address: '127.0.0.3:8081', metadata: { zone: 'a' } }],
    });
    await until(async () => (await a.getService('greeter').catch(() => [])).length === 1, 10_000, 'greeter on the seed');
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('members: both members and the CLI itself, alive; the CLI leaves on exit', async () => {
    const r = await runCli(['members', '--registry', 'gossip', '--address', seed, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const members = JSON.parse(r.stdout) as Json[];
    const names = members.map((m) => String(m.name));
    assert.ok(names.includes('cli-test-a') && names.includes('cli-test-b'), r.stdout);
    const cli = members.find((m) => /^rollcall-cli-/.test(String(m.name)));
    assert.ok(cli, `the CLI is a member under a name of its own:\n${r.stdout}`);
    assert.match(String(cli.address), /^127\.0\.0\.1:\d+$/);
    assert.notEqual(String(cli.address), '127.0.0.1:7946', 'the CLI takes a free port');
    assert.ok(
      members.every((m) => m.status === 'alive'),
      r.stdout,
    );
    // Closing made it leave: the seed does not keep it as alive.
    await until(
      async () => ((await a.members?.()) ?? []).find((m) => m.name === cli.name)?.status !== 'alive',
      10_000,
      'the CLI member to leave',
    );
    const table = await runCli(['members', '--registry', `gossip://${seed}`]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME +ADDRESS +STATUS/);
    assert.match(table.stdout, /cli-test-b +127\.0\.0\.3:\d+ +alive/);
  });

  it('services and get read what the cluster holds; an unknown service is exit 1', async () => {
    const env = { ROLLCALL_REGISTRY: 'gossip', ROLLCALL_REGISTRY_ADDRESS: seed };
    const services = await runCli(['services', '--json'], env);
    assert.equal(services.code, 0, services.stderr);
    assert.deepEqual(JSON.parse(services.stdout), [{ name: 'greeter', version: '1.0.0', metadata: {} }]);
    const got = await runCli(['get', 'greeter', '--json'], env);
    assert.equal(got.code, 0, got.stderr);
    const [service] = JSON.parse(got.stdout) as Json[];
    assert.deepEqual(service?.nodes, [{ id: 'greeter-a', address: '127.0.0.3:8081', metadata: { zone: 'a' } }]);
    const missing = await runCli(['get', 'nosuch', '--json'], env);
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(missing.errors.length, 1, missing.stderr);
  });

  it('register: the cluster sees the node and a watch reports it; Ctrl+C deletes it at once', async () => {
    const env = { ROLLCALL_REGISTRY: `gossip://${seed}` };
    const watch = new LiveCli(spawnCli(['watch', 'echo', '--json'], env));
    await watch.waitFor((i) => i.type === 'synced', 15_000, 'watch synced');
    const reg = new LiveCli(spawnCli(['register', 'echo', '127.0.0.4:9090', '--id', 'echo-1', '--json'], env));
    await reg.waitFor((i) => i.type === 'registered', 15_000, 'registered');
    await until(async () => (await a.getService('echo').catch(() => [])).length === 1, 10_000, 'echo on the seed');
    const created = await watch.waitFor((i) => i.type === 'create', 10_000, 'watch create');
    assert.deepEqual(
      ((created.added as Json[]) ?? []).map((n) => n.id),
      ['echo-1'],
    );
    const bye = await reg.interrupt();
    assert.equal(bye.code, 0, bye.stderr);
    assert.ok(
      reg.items.some((i) => i.type === 'deregistered'),
      bye.stdout,
    );
    await watch.waitFor((i) => i.type === 'delete', 5_000, 'watch delete (a goodbye, well before the ttl)');
    await until(async () => (await a.getService('echo').catch(() => [])).length === 0, 5_000, 'echo gone from the seed');
    const ended = await watch.interrupt();
    assert.ok(ended.code === 0 || ended.code === 130, ended.stderr);
  });
});
