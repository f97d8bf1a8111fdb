/**
 * A throwaway Consul agent for the demo (`consul agent -dev`): in-memory state, every listener on
 * 127.0.0.1 on ports picked free, stopped by PID when the demo ends. To use a real agent instead:
 * `npm run demo -- --registry consul --address 10.0.0.2:8500`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DevConsul {
  /** `127.0.0.1:<http port>` */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** `consul` on the PATH, else the copy `scripts/peers/consul.sh` caches for the tests. */
export function findConsul(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v consul'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const cached = fileURLToPath(new URL('../.cache/peers/consul/usr/bin/consul', import.meta.url));
  return existsSync(cached) ? cached : undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startDevConsul(bin: string): Promise<DevConsul> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-demo-consul-'));
  const [http, serfLan, serfWan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    node_name: 'rollcall-demo',
    bind_addr: '127.0.0.1',
    advertise_addr: '127.0.0.1',
    client_addr: '127.0.0.1',
    disable_update_check: true,
    ports: { http, dns: -1, grpc: -1, serf_lan: serfLan, serf_wan: serfWan, server },
  };
  writeFileSync(join(dir, 'agent.json'), JSON.stringify(config));
  const child: ChildProcess = spawn(bin, ['agent', '-dev', '-config-file', join(dir, 'agent.json')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  const address = `127.0.0.1:${http}`;
  for (const started = Date.now(); ; ) {
    try {
      const leader = await fetch(`http://${address}/v1/status/leader`, { signal: AbortSignal.timeout(1_000) });
      if (leader.ok && (await leader.json()) !== '') break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() - started > 20_000) {
      await stop();
      throw new Error(`the Consul dev agent (${bin}) did not start within 20 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { address, pid: child.pid as number, stop };
}
