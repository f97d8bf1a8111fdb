/**
 * The `rollcall` command on mDNS between two namespace hosts: a registration on one host is read
 * by every command on the other and gone after Ctrl+C; without --interface the command names the
 * interfaces it will multicast on before it does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLan, type Lan, requireLan } from '../peers/lan.js';
import { LiveCli, runCli, spawnCli } from './cli-process.js';

type Json = Record<string, unknown>;
const env = { ROLLCALL_REGISTRY: 'mdns' };

describe('rollcall CLI on mdns across two hosts', { timeout: 120_000 }, () => {
  let lan: Lan<'server' | 'client'> | undefined;

  before(async (t) => {
    if (!requireLan(t as never)) return;
    lan = await createLan({ hosts: ['server', 'client'], subnet: 236, ipv6: false });
  });
  after(() => lan?.destroy());

  it('register on one host; services, get and watch on the other see it; Ctrl+C removes it', async (t) => {
    if (!lan) return t.skip('no LAN');
    const { server, client } = lan.hosts;
    const watch = new LiveCli(spawnCli(['watch', 'greeter', '--json', '--interface', 'eth0'], env, client));
    await watch.waitFor((i) => i.type === 'synced', 15_000, 'watch synced');

    const reg = new LiveCli(
      spawnCli(
        ['register', 'greeter', `${server.address}:8080`, '--id', 'greeter-a', '--meta', 'zone=a', '--json', '-i', 'eth0'],
        env,
        server,
      ),
    );
    await reg.waitFor((i) => i.type === 'registered', 15_000, 'registered');
    const created = await watch.waitFor((i) => i.type === 'create', 15_000, 'watch create');
    assert.deepEqual(created.added, [{ id: 'greeter-a', address: `${server.address}:8080`, metadata: { zone: 'a' } }]);

    const got = await runCli(['get', 'greeter', '--json', '-i', 'eth0'], env, client);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual((JSON.parse(got.stdout) as Json[])[0]?.nodes, created.added);
    const services = await runCli(['services', '--json', '-i', 'eth0'], env, client);
    assert.equal(services.code, 0, services.stderr);
    assert.deepEqual(JSON.parse(services.stdout), [{ name: 'greeter', version: '', metadata: {} }]);

    const bye = await reg.interrupt();
    assert.equal(bye.code, 0, bye.stderr);
    assert.ok(reg.items.some((i) => i.type === 'deregistered'));
    const deleted = await watch.waitFor((i) => i.type === 'delete', 10_000, 'watch delete after the goodbye');
    assert.deepEqual(
      (deleted.removed as Json[]).map((n) => n.id),
      ['greeter-a'],
    );
    const gone = await runCli(['get', 'greeter', '-i', 'eth0'], env, client);
    assert.equal(gone.code, 1, gone.stderr);
    assert.equal((await watch.interrupt()).code, 0);
  });

  it('without --interface it names the interfaces on stderr first; unknown service and members are one line', async (t) => {
    if (!lan) return t.skip('no LAN');
    const { client } = lan.hosts;
    const r = await runCli(['get', 'no-such-service'], env, client);
    assert.equal(r.code, 1);
    assert.equal(r.errors.length, 2, r.stderr);
    assert.match(
      r.errors[0] ?? '',
      new RegExp(`^rollcall: mdns will multicast on eth0 \\(${client.address.replaceAll('.', '\\.')}\\); choose with --interface`),
    );
    assert.match(r.errors[1] ?? '', /^rollcall get: .*"no-such-service" not found/);

    const members = await runCli(['members', '-i', 'eth0'], env, client);
    assert.equal(members.code, 2);
    assert.deepEqual(members.errors, ['rollcall members: the mdns registry has no cluster members (consul and gossip have)']);

    const wrong = await runCli(['services', '-i', 'nope0', '--json'], env, client);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.equal((JSON.parse(wrong.stderr) as { error: Json }).error.code, 'UNSUPPORTED');
  });
});
