/**
 * The `rollcall` command against a real Consul dev agent: every command, `--json` parsed, the exit
 * codes, one-line errors, and a registration that another process sees until Ctrl+C.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type DevAgent, requirePeer, startDevAgent } from '../peers/consul.js';
import { LiveCli, runCli, spawnCli } from './cli-process.js';

type Json = Record<string, unknown>;

/** A loopback port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('rollcall CLI on consul', { timeout: 120_000 }, () => {
  let agent: DevAgent | undefined;
  let env: NodeJS.ProcessEnv;

  before(async (t) => {
    agent = await requirePeer(t as never, () => startDevAgent());
    if (agent) env = { ROLLCALL_REGISTRY: 'consul', ROLLCALL_REGISTRY_ADDRESS: agent.address.replace('http://', '') };
  });
  after(() => agent?.stop());

  it('services: nothing registered is exit 1 with an empty JSON list', async (t) => {
    if (!agent) return t.skip('no consul');
    const r = await runCli(['services', '--json'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('register holds a node other processes see, every command reads it, Ctrl+C says goodbye', async (t) => {
    if (!agent) return t.skip('no consul');
    const watch = new LiveCli(spawnCli(['watch', 'greeter', '--json'], env));
    await watch.waitFor((i) => i.type === 'synced', 15_000, 'watch synced');

    const reg = new LiveCli(
      spawnCli(
        ['register', 'greeter', '127.0.0.1:8081', '--id', 'greeter-a', '--service-version', '1.0.0', '--meta', 'zone=a', '--json'],
        env,
      ),
    );
    const registered = await reg.waitFor((i) => i.type === 'registered', 15_000, 'registered');
    assert.equal((registered.service as Json).name, 'greeter');

    const created = await watch.waitFor((i) => i.type === 'create', 15_000, 'watch create');
    assert.deepEqual(
      ((created.added as Json[]) ?? []).map((n) => n.id),
      ['greeter-a'],
    );

    const services = await runCli(['services', '--json'], env);
    assert.equal(services.code, 0, services.stderr);
    assert.deepEqual(JSON.parse(services.stdout), [{ name: 'greeter', version: '1.0.0', metadata: {} }]);
    const servicesTable = await runCli(['services'], env);
    assert.match(servicesTable.stdout, /^NAME +VERSION\ngreeter +1\.0\.0\n$/);

    // The flags beat the environment: point at the agent with --registry/--address only.
    const flags = ['--registry', 'consul', '--address', (agent.address as string).replace('http://', '')];
    const got = await runCli(['get', 'greeter', '--json', ...flags]);
    assert.equal(got.code, 0, got.stderr);
    const [service] = JSON.parse(got.stdout) as Json[];
    assert.deepEqual(service?.nodes, [{ id: 'greeter-a', address: '127.0.0.1:8081', metadata: { zone: 'a' } }]);
    const table = await runCli(['get', 'greeter', ...flags]);
    assert.match(table.stdout, /^VERSION +ID +ADDRESS +METADATA\n1\.0\.0 +greeter-a +127\.0\.0\.1:8081 +zone=a\n$/);

    const bye = await reg.interrupt();
    assert.equal(bye.code, 0, bye.stderr);
    assert.ok(
      reg.items.some((i) => i.type === 'deregistered'),
      bye.stdout,
    );
    const deleted = await watch.waitFor((i) => i.type === 'delete', 15_000, 'watch delete');
    assert.deepEqual(
      (deleted.removed as Json[]).map((n) => n.id),
      ['greeter-a'],
    );
    const gone = await runCli(['get', 'greeter'], env);
    assert.equal(gone.code, 1);

    const stopped = await watch.interrupt();
    assert.equal(stopped.code, 0, stopped.stderr);
  });

  it('get of an unknown service: exit 1 and one line naming it', async (t) => {
    if (!agent) return t.skip('no consul');
    const r = await runCli(['get', 'no-such-service'], env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.errors.length, 1, r.stderr);
    assert.match(r.errors[0] ?? '', /^rollcall get: .*"no-such-service" not found/);
    const json = await runCli(['get', 'no-such-service', '--json'], env);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stderr) as { error: Json }).error.code, 'NOT_FOUND');
  });

  it('members: the agent is an alive member', async (t) => {
    if (!agent) return t.skip('no consul');
    const r = await runCli(['members', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const members = JSON.parse(r.stdout) as Json[];
    assert.ok(
      members.some((m) => m.name === agent?.nodeName && m.status === 'alive'),
      r.stdout,
    );
    const table = await runCli(['members'], env);
    assert.match(table.stdout, new RegExp(`^NAME +ADDRESS +STATUS +TAGS\\n${agent.nodeName} +127\\.0\\.0\\.1:\\d+ +alive`));
  });

  it('an unreachable registry: exit 3 and one line, for every reading command', async (t) => {
    if (!agent) return t.skip('no consul');
    const port = await closedPort();
    // Go Micro's variables work as well as rollcall's.
    const away = { MICRO_REGISTRY: 'consul', MICRO_REGISTRY_ADDRESS: `127.0.0.1:${port}` };
    for (const args of [['services'], ['get', 'greeter'], ['members'], ['watch', '--timeout', '2s'], ['register', 'x', '127.0.0.1:1']]) {
      const r = await runCli(args, away);
      assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
      assert.equal(r.errors.length, 1, `${args[0]}: ${r.stderr}`);
      assert.match(r.errors[0] ?? '', new RegExp(`^rollcall ${args[0]}: .*(127\\.0\\.0\\.1:${port}|did not answer)`));
    }
    const verbose = await runCli(['services', '--verbose'], away);
    assert.equal(verbose.code, 3);
    assert.ok(verbose.errors.length > 1, 'a stack only when asked for');
  });

  it('usage errors: exit 2 and one line', async (t) => {
    if (!agent) return t.skip('no consul');
    for (const args of [['get'], ['frobnicate'], ['services', '--ttl', '3s'], ['register', 'x', '127.0.0.1:1', '--meta', 'novalue'], []]) {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.errors.length, 1, r.stderr);
    }
  });
});
