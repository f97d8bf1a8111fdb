/**
 * A real serf agent (Debian's serf 0.9.4, provisioned by scripts/peers/gossip.sh) on a loopback
 * address with free ports, driven through its own CLI: `serf members -format json`, `serf join`.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { pickPorts } from './consul-agents.js';
import { stopChild } from './process.js';

/** Why serf cannot run here, or undefined. */
export function serfMissing(): string | undefined {
  if (spawnSync('serf', ['version'], { stdio: 'ignore' }).status !== 0)
    return 'serf is not installed; run `bash scripts/peers/gossip.sh` as root';
  return undefined;
}

/** The `skip` option for a suite that needs serf; under CI=true a missing serf is a failure. */
export function serfSkip(): string | false {
  const reason = serfMissing();
  if (!reason) return false;
  if (process.env.CI === 'true') throw new Error(`serf unavailable: ${reason} (CI=true: this must not be skipped)`);
  process.stderr.write(`\n*** SKIPPED: serf unavailable: ${reason} ***\n\n`);
  return reason;
}

export interface SerfMember {
  name: string;
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: string;
  protocol: Record<string, number>;
}

export interface SerfAgentOptions {
  name: string;
  /** Loopback address to bind (127.0.0.x). */
  host: string;
  tags?: Record<string, string>;
  /** Base64 key (serf's -encrypt). */
  encrypt?: string;
  /** Timing profile (serf's -profile): `lan` is memberlist's DefaultLANConfig. @default 'local' */
  profile?: 'lan' | 'wan' | 'local';
  /** Address the RPC listens on, when it must stay off the gossip address (traffic counted per address). @default host */
  rpcHost?: string;
  /** Event handlers, each as serf's `-event-handler` takes it (`[filter=]script`). */
  eventHandlers?: string[];
}

export interface SerfAgent {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly rpc: string;
  /** The agent's process id, to signal it (SIGKILL for a crash). */
  readonly pid: number | undefined;
  log(): string;
  members(): Promise<SerfMember[]>;
  /** `serf join` from this agent to `address` (host:port); resolves with the CLI's output, rejects on failure. */
  join(address: string): Promise<string>;
  /** `serf event` from this agent; `coalesce` false delivers it at once instead of after serf's coalescing window. */
  userEvent(name: string, payload: string, coalesce?: boolean): Promise<string>;
  stop(): Promise<void>;
}

function run(args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('serf', args, { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) =>
      error ? reject(new Error(`serf ${args.join(' ')}: ${(stderr || stdout || error.message).trim()}`)) : resolve(stdout),
    );
  });
}

export async function startSerf(o: SerfAgentOptions): Promise<SerfAgent> {
  const rpcHost = o.rpcHost ?? o.host;
  const [port] = await pickPorts([o.host], 1);
  const [rpcPort] = await pickPorts([rpcHost], 1);
  const rpc = `${rpcHost}:${rpcPort}`;
  const args = [
    'agent',
    '-node',
    o.name,
    '-bind',
    `${o.host}:${port}`,
    '-rpc-addr',
    rpc,
    '-profile',
    o.profile ?? 'local',
    '-log-level',
    'debug',
  ];
  for (const handler of o.eventHandlers ?? []) args.push('-event-handler', handler);
  for (const [k, v] of Object.entries(o.tags ?? {})) args.push('-tag', `${k}=${v}`);
  if (o.encrypt) args.push('-encrypt', o.encrypt);
  const child: ChildProcess = spawn('serf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d: Buffer) => {
    log = (log + d.toString('utf8')).slice(-128 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const agent: SerfAgent = {
    name: o.name,
    host: o.host,
    port: port as number,
    rpc,
    pid: child.pid,
    log: () => log,
    async members() {
      const out = await run(['members', '-rpc-addr', rpc, '-format', 'json']);
      return (JSON.parse(out) as { members: SerfMember[] }).members;
    },
    join: (address) => run(['join', '-rpc-addr', rpc, address], 20_000),
    userEvent: (name, payload, coalesce = true) => run(['event', '-rpc-addr', rpc, `-coalesce=${coalesce}`, name, payload]),
    stop: () => stopChild(child),
  };
  // Ready once the RPC answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await agent.members();
      return agent;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await agent.stop();
        throw new Error(`serf agent did not start: ${(error as Error).message}\n${log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
