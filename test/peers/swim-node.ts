/**
 * A rollcall SWIM node as its own process, so tests can SIGKILL, SIGSTOP and SIGCONT it like the
 * Go memberlist peer. Run as `node --import tsx test/peers/swim-node.ts --name n1 --bind 127.0.0.1
 * [--port 0] [--config local|lan|wan] [--join host:port,...]`. Speaks JSON lines: events on stdout
 * (`ready`, `joined`, `join` / `update` / `leave` with the member), commands on stdin with an `id`
 * answered by a `reply` line (`members`, `self`, `stats`, `join`, `leave`, `stall`, `shutdown`).
 * The driver for tests is {@link startSwimNode} at the bottom; it is used from test files only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join as joinPath } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type PresetName, presets } from '../../src/adapters/gossip/swim/config.js';
import type { Member } from '../../src/adapters/gossip/swim/members.js';
import { SwimNode } from '../../src/adapters/gossip/swim/node.js';
import { systemClock } from '../../src/internal/clock.js';
import type { Address } from '../../src/internal/transport.js';
import { bindNetTransport } from '../../src/internal/transport-net.js';
import { stopChild } from './process.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface MemberLine {
  name: string;
  addr: string;
  port: number;
  state: number;
  incarnation: number;
}

function parseAddress(text: string): Address {
  const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(text);
  if (!m) throw new Error(`bad address ${text}`);
  return { host: m[1] as string, port: Number(m[2]) };
}

function memberLine(m: Member): MemberLine {
  const addr = m.addr.length === 4 ? [...m.addr].join('.') : Buffer.from(m.addr).toString('hex');
  return { name: m.name, addr, port: m.port, state: m.state, incarnation: m.incarnation };
}

/** Blocks the event loop, as a CPU-starved process or a long GC pause would. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: nothing else may run
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) flags.set((argv[i] as string).replace(/^--/, ''), argv[i + 1] ?? '');
  const name = flags.get('name') ?? 'rollcall';
  const preset = (flags.get('config') ?? 'local') as PresetName;
  const config = presets[preset];
  if (!config) throw new Error(`unknown preset ${preset}`);
  const out = (v: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(v)}\n`);
  const transport = await bindNetTransport({
    host: flags.get('bind') ?? '127.0.0.1',
    port: Number(flags.get('port') ?? 0),
    clock: systemClock,
  });
  const node = new SwimNode({
    transport,
    clock: systemClock,
    config,
    layers: { label: new Uint8Array(0), compression: config.enableCompression },
    name,
    onEvent: (e) => out({ event: e.type, node: memberLine(e.member) }),
  });
  node.start();
  out({
    event: 'ready',
    name,
    host: node.address.host,
    port: node.address.port,
    incarnation: node.members.local.incarnation,
    pid: process.pid,
  });
  const seeds = (flags.get('join') ?? '').split(',').filter(Boolean).map(parseAddress);
  if (seeds.length > 0) out({ event: 'joined', joined: await node.join(seeds) });
  // A periodic stall, so a test can starve this node without a command arriving late.
  const stallMs = Number(flags.get('stall-ms') ?? 0);
  const stallEvery = Number(flags.get('stall-every') ?? 0);
  if (stallMs > 0 && stallEvery > 0) {
    setInterval(() => {
      stall(stallMs);
      out({ event: 'stalled', ms: stallMs });
    }, stallEvery);
  }
  const onCommand = async (text: string) => {
    let cmd: { id?: string; cmd?: string; addrs?: string[]; ms?: number };
    try {
      cmd = JSON.parse(text);
    } catch {
      return;
    }
    const reply = (v: Record<string, unknown>) => out({ reply: cmd.cmd, id: cmd.id, ...v });
    switch (cmd.cmd) {
      case 'members':
        return reply({ members: node.members.all().map(memberLine) });
      case 'self':
        return reply({ node: memberLine(node.members.local) });
      case 'stats':
        return reply({ stats: node.stats, net: node.net.stats, memory: process.memoryUsage(), cpu: process.cpuUsage() });
      case 'join':
        return reply({ joined: await node.join((cmd.addrs ?? []).map(parseAddress)) });
      case 'stall':
        stall(cmd.ms ?? 0);
        return reply({});
      case 'leave':
        await node.leave(cmd.ms ?? 2000);
        return reply({});
      case 'shutdown':
        await node.close();
        reply({});
        process.exit(0);
        return;
      default:
        return reply({ error: `unknown command ${String(cmd.cmd)}` });
    }
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => void node.close().then(() => process.exit(0)));
  lines.on('line', (line) => void onCommand(line));
}

// --- driver (used by tests in the parent process) ---

type Line = Record<string, unknown> & { event?: string; reply?: string; id?: string; error?: string };

export interface SwimNodeProcessOptions {
  name: string;
  bind: string;
  port?: number;
  config?: PresetName;
  join?: string[];
  stallMs?: number;
  stallEvery?: number;
  /**
   * This file compiled to plain JavaScript, run without the TypeScript loader (whose worker thread
   * costs memory and CPU that a deployed node would not pay): benchmarks measure nodes this way.
   */
  script?: string;
  /** How to start the process (e.g. a namespace host's `exec`); default `spawn` on this machine. */
  spawn?: (cmd: string, args: string[], opts: { stdio: ['pipe', 'pipe', 'pipe'] }) => ChildProcess;
}

/** One running rollcall node process. */
export class SwimNodeProcess {
  readonly events: Line[] = [];
  stderr = '';
  name = '';
  host = '';
  port = 0;
  incarnation = 0;
  #nextId = 0;
  readonly #pending = new Map<string, (l: Line) => void>();
  readonly #watchers = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-32 * 1024);
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        return;
      }
      const done = line.id !== undefined ? this.#pending.get(line.id) : undefined;
      if (line.reply !== undefined && done) {
        this.#pending.delete(line.id as string);
        done(line);
        return;
      }
      this.events.push(line);
      for (const w of this.#watchers) w();
    });
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  request(cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<Line> {
    const id = String(++this.#nextId);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        fail(new Error(`swim-node ${this.name}: no reply to ${JSON.stringify(cmd)}\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.#pending.set(id, (l) => {
        clearTimeout(timer);
        ok(l);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  async members(): Promise<MemberLine[]> {
    return (await this.request({ cmd: 'members' })).members as MemberLine[];
  }

  waitFor(match: (l: Line) => boolean, timeoutMs = 15_000, what = 'event'): Promise<Line> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((ok, fail) => {
      const check = () => {
        const found = this.events.find(match);
        if (!found) return;
        clearTimeout(timer);
        this.#watchers.delete(check);
        ok(found);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        fail(new Error(`swim-node ${this.name}: timed out waiting for ${what}\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.#watchers.add(check);
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.pid) process.kill(this.child.pid, sig);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin?.end();
    await stopChild(this.child, 2000);
  }
}

/** Starts a node process; resolves once it is bound (and its start-up join returned). */
export async function startSwimNode(o: SwimNodeProcessOptions): Promise<SwimNodeProcess> {
  const entry = o.script ? [o.script] : ['--import', 'tsx', joinPath(here, 'swim-node.ts')];
  const args = [...entry, '--name', o.name, '--bind', o.bind, '--port', String(o.port ?? 0)];
  args.push('--config', o.config ?? 'local');
  if (o.join?.length) args.push('--join', o.join.join(','));
  if (o.stallMs && o.stallEvery) args.push('--stall-ms', String(o.stallMs), '--stall-every', String(o.stallEvery));
  const start = o.spawn ?? spawn;
  const proc = new SwimNodeProcess(start(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  try {
    const ready = await proc.waitFor((l) => l.event === 'ready', 30_000, 'ready');
    Object.assign(proc, {
      name: String(ready.name),
      host: String(ready.host),
      port: Number(ready.port),
      incarnation: Number(ready.incarnation),
    });
    if (o.join?.length) await proc.waitFor((l) => l.event === 'joined', 30_000, 'start-up join');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stdout.write(`${JSON.stringify({ event: 'fatal', error: String(err) })}\n`);
    process.exit(1);
  });
}
