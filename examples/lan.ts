/**
 * A throwaway LAN for the demo: Linux network namespaces as hosts, cabled to a bridge in a
 * namespace of its own. mDNS multicasts; the demo must never do that on the machine's own
 * interfaces, so every process of the mDNS demo lives inside these namespaces, and they are
 * deleted when the demo ends (also on Ctrl-C). Needs root and iproute2.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface DemoHost {
  name: string;
  netns: string;
  address: string;
}

export interface DemoLan {
  hosts: DemoHost[];
  subnet: string;
  /** Starts `node --import tsx <script> ...args` inside a host; killed (by PID) when the LAN goes. */
  run(host: DemoHost, script: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  destroy(): void;
}

/** Whether this machine can build the LAN: Linux, root, `ip`, and namespaces allowed. */
export function lanPossible(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  if (spawnSync('sh', ['-c', 'command -v ip'], { stdio: 'ignore' }).status !== 0) return false;
  const probe = `rcdemo-${process.pid}-probe`;
  if (spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' }).status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return true;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function createDemoLan(names: string[], thirdOctet = 240): DemoLan {
  const id = `rcdemo-${process.pid}-${randomBytes(2).toString('hex')}`;
  const bridge = `${id}-br`;
  const namespaces: string[] = [];
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  process.once('exit', destroy);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      destroy();
      process.exit(130);
    });
  }

  try {
    ip('netns', 'add', bridge);
    namespaces.push(bridge);
    // Snooping off: the bridge floods multicast like the plain switch of a small office.
    ip('-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', bridge, 'link', 'set', 'br0', 'up');
    const hosts = names.map((name, i): DemoHost => {
      const netns = `${id}-${name}`;
      ip('netns', 'add', netns);
      namespaces.push(netns);
      ip('-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', bridge);
      ip('-n', bridge, 'link', 'set', `v${i}`, 'master', 'br0', 'up');
      const address = `169.254.${thirdOctet}.${i + 1}`;
      ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      ip('-n', netns, 'link', 'set', 'eth0', 'multicast', 'on', 'up');
      // Without a multicast route, sends to 224.0.0.251 fail: the namespace has no default route.
      ip('-n', netns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
      return { name, netns, address };
    });
    return {
      hosts,
      subnet: `169.254.${thirdOctet}.0/24`,
      run(host, script, args, env = {}) {
        const child = spawn('ip', ['netns', 'exec', host.netns, process.execPath, '--import', 'tsx', script, ...args], {
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { ...process.env, ...env, ROLLCALL_REGISTRY: 'mdns' },
        });
        children.add(child);
        child.once('exit', () => children.delete(child));
        return child;
      },
      destroy,
    };
  } catch (error) {
    destroy();
    throw error;
  }
}
