/**
 * The examples run as a user runs them on two machines: the greeter server on one, the client on
 * the other. Over mDNS with no configuration at all (two namespace hosts, never this machine's own
 * interfaces), and over Consul with one environment variable.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { finish, root } from './cli/cli-process.js';
import { type DevAgent, requirePeer, startDevAgent } from './peers/consul.js';
import { createLan, type Lan, type LanHost, requireLan, waitForLine } from './peers/lan.js';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

/** The environment of a machine nobody configured: no registry variable of any kind. */
function unconfigured(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(ROLLCALL_|MICRO_|CONSUL_HTTP_)/.test(name)) delete env[name];
  return { ...env, ...extra };
}

function start(script: string, args: string[], env: NodeJS.ProcessEnv, host?: LanHost): ChildProcess {
  const argv = ['--import', 'tsx', example(script), ...args];
  const options = { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  return host ? host.exec(process.execPath, argv, options) : spawn(process.execPath, argv, options);
}

async function serverAndClient(env: NodeJS.ProcessEnv, serverArgs: string[], serverHost?: LanHost, clientHost?: LanHost) {
  const server = start('greeter.ts', serverArgs, env, serverHost);
  const stderr: string[] = [];
  server.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  try {
    const ready = await waitForLine(server.stdout, /^ready /, 20_000, 'the greeter to register');
    const address = ready.slice('ready '.length);
    const client = await finish(start('greeter-client.ts', ['2'], env, clientHost), 30_000);
    assert.equal(client.code, 0, client.stderr);
    const lines = client.stdout.trim().split('\n');
    assert.equal(lines.length, 2, client.stdout);
    for (const line of lines) assert.equal(line, `hello client from ${serverArgs[0]} at ${address}`);
    return address;
  } finally {
    if (server.exitCode === null) server.kill('SIGINT');
    const done = await finish(server, 15_000);
    // gracefulShutdown lets the process die of the signal, as a shell expects.
    assert.equal(done.signal, 'SIGINT', `the greeter ends on Ctrl+C: ${stderr.join('')}`);
  }
}

describe('examples', { timeout: 120_000 }, () => {
  let lan: Lan<'server' | 'client'> | undefined;
  let agent: DevAgent | undefined;
  after(async () => {
    await lan?.destroy();
    await agent?.stop();
  });

  it('greeter and client on two LAN hosts, with no configuration (mDNS)', async (t) => {
    if (!requireLan(t)) return;
    lan = await createLan({ hosts: ['server', 'client'], subnet: 237, ipv6: false });
    const { server, client } = lan.hosts;
    // No host argument: the greeter publishes its own LAN address.
    const address = await serverAndClient(unconfigured(), ['greeter-lan'], server, client);
    assert.match(address, new RegExp(`^${server.address.replaceAll('.', '\\.')}:\\d+$`));
  });

  it('the same two programs with one variable pointing at Consul', async (t) => {
    agent = await requirePeer(t, () => startDevAgent());
    if (!agent) return;
    const env = unconfigured({ ROLLCALL_REGISTRY: `consul://${agent.address.replace('http://', '')}` });
    await serverAndClient(env, ['greeter-consul', '127.0.0.1']);
    const left = await agent.request('/v1/agent/services');
    assert.deepEqual(left.json(), {}, 'the greeter said goodbye to the agent');
  });
});
