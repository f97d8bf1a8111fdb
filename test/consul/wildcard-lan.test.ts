/**
 * A wildcard node address registered through an agent on another host: the node is registered
 * with the local address of the route to the agent (this host's LAN address), not the agent's.
 * A real Consul agent runs on one namespace host of a test LAN, the registering registry in a
 * child process on another; nothing leaves the namespaces the test creates.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import type { Registry } from '../../src/index.js';
import { spawnRegistry } from '../harness/remote.js';
import { lanSkipReason } from '../mdns/lan-registries.js';
import { ensureConsul } from '../peers/consul.js';
import { createLan } from '../peers/lan.js';

const skip = lanSkipReason();

test('wildcard over a LAN: 0.0.0.0 becomes the registering host’s address on the route to the agent', { skip }, async (t) => {
  const bin = await ensureConsul();
  const lan = await createLan({ hosts: ['agent', 'app'], ipv6: false });
  const children: ChildProcess[] = [];
  const registries: Registry[] = [];
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    for (const c of children) c.kill('SIGKILL');
    await lan.destroy();
  });
  const { agent, app } = lan.hosts;
  const agentProcess = agent.exec(bin, [
    'agent',
    '-dev',
    '-node',
    'lan-agent',
    '-bind',
    agent.address,
    '-advertise',
    agent.address,
    '-client',
    agent.address,
    '-data-dir',
    agent.tmpdir,
  ]);
  children.push(agentProcess);
  const registry = await spawnRegistry({ options: { kind: 'consul', address: `${agent.address}:8500` }, netns: app.netns });
  registries.push(registry);
  const name = `wild-lan-${process.pid}`;
  // The agent needs a leader before it accepts registrations (about a second).
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await registry.register({ name, nodes: [{ id: `${name}-1`, address: '0.0.0.0:8080' }] });
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'UNAVAILABLE' || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  let address: string | undefined;
  while (Date.now() < deadline) {
    address = (await registry.getService(name).catch(() => []))[0]?.nodes[0]?.address;
    if (address) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.notEqual(app.address, agent.address);
  assert.equal(address, `${app.address}:8080`, 'the node is at the registering host’s LAN address, not the agent’s');
});
