/**
 * A private Ethernet LAN made of Linux network namespaces, for tests that need
 * real multicast between real "hosts" on one machine.
 *
 * Layout: one namespace holds a bridge (`br0`, IGMP/MLD snooping off, so it
 * floods like a plain switch); every host is a namespace whose `eth0` is a veth
 * cabled to that bridge, with a 169.254.x.y/24 address, `lo` up, multicast on
 * and a 224.0.0.0/4 route (without it multicast sends fail with ENETUNREACH).
 * Nothing is configured in the machine's own namespace: every address, route,
 * rule and socket lives inside namespaces created here, whose names carry the
 * PID and a random suffix so concurrent runs never meet.
 *
 * Needs root, iproute2, and per feature nft / tcpdump / avahi / dbus
 * (scripts/peers/lan.sh installs them on Debian).
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CapturedPacket } from './pcap.js';
import { parsePcap } from './pcap.js';
import {
  alive,
  collect,
  exited,
  ip,
  ipSync,
  killPid,
  type RunOptions,
  type RunResult,
  stopChild,
  waitExit,
  waitForLine,
} from './process.js';

export * from './avahi.js';
export * from './pcap.js';
export { jsonLines, type RunOptions, type RunResult, stopChild, waitForLine } from './process.js';

// ---------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------

/** Extra tools a test may need besides `ip`. */
export type LanTool = 'nft' | 'tcpdump' | 'avahi' | 'go' | 'go-mdns';

export interface LanAvailability {
  ok: boolean;
  /** Why not, in words a developer can act on. */
  reason?: string;
}

const toolCommands: Record<LanTool, string[]> = {
  nft: ['nft'],
  tcpdump: ['tcpdump'],
  avahi: ['avahi-daemon', 'avahi-browse', 'avahi-publish', 'dbus-daemon', 'unshare', 'nsenter'],
  go: ['go'],
  'go-mdns': ['go'],
};

const commandCache = new Map<string, boolean>();
function hasCommand(cmd: string): boolean {
  let known = commandCache.get(cmd);
  if (known === undefined) {
    known = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
    commandCache.set(cmd, known);
  }
  return known;
}

let netnsProbe: string | undefined | null = null;
/** Creating a namespace can fail even as root (containers without CAP_SYS_ADMIN). */
function probeNetns(): string | undefined {
  if (netnsProbe !== null) return netnsProbe;
  const name = `rc-${process.pid}-${randomBytes(2).toString('hex')}-probe`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) {
    netnsProbe = `cannot create a network namespace: ${(add.stderr || '').trim() || `exit ${add.status}`}`;
  } else {
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    netnsProbe = undefined;
  }
  return netnsProbe;
}

/** Whether LAN tests can run here: root, Linux, `ip` present, namespaces allowed, and the extra tools asked for. */
export function lanAvailable(need: readonly LanTool[] = []): LanAvailability {
  const fix = 'run `bash scripts/peers/lan.sh` as root';
  if (process.platform !== 'linux') return { ok: false, reason: 'LAN tests need Linux network namespaces' };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, reason: 'LAN tests need root (network namespaces); run the tests as root' };
  }
  if (!hasCommand('ip')) return { ok: false, reason: `\`ip\` (iproute2) is missing; ${fix}` };
  const missing = need.flatMap((tool) => toolCommands[tool].filter((cmd) => !hasCommand(cmd)));
  if (missing.length > 0) {
    return { ok: false, reason: `missing ${[...new Set(missing)].join(', ')}; ${fix}` };
  }
  if (need.includes('go-mdns')) {
    const probe = spawnSync('sh', ['-c', 'test -d /usr/share/gocode/src/github.com/hashicorp/mdns'], { stdio: 'ignore' });
    if (probe.status !== 0) return { ok: false, reason: `golang-github-hashicorp-mdns-dev is missing; ${fix}` };
  }
  const ns = probeNetns();
  if (ns) return { ok: false, reason: ns };
  return { ok: true };
}

interface SkippableContext {
  skip(message?: string): void;
}

/**
 * Gate for one test: true when it may run. Otherwise the test is skipped with a
 * loud message, except under CI=true, where a missing prerequisite is a setup
 * bug and the test fails.
 */
export function requireLan(t: SkippableContext, need: readonly LanTool[] = []): boolean {
  const status = lanAvailable(need);
  if (status.ok) return true;
  const message = `LAN test prerequisites missing: ${status.reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: this must not be skipped)`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  t.skip(message);
  return false;
}

// ---------------------------------------------------------------------------
// The LAN
// ---------------------------------------------------------------------------

export interface LanOptions<H extends string> {
  /** Host names: lowercase letters and digits, at most 10 characters, not `br`. */
  hosts: readonly H[];
  /** Third octet of the 169.254.X.0/24 LAN; default 231. */
  subnet?: number;
  /**
   * Keep IPv6 on (link-local fe80:: addresses, DAD skipped so they are usable
   * at once). Default true: Go's hashicorp/mdns client fails its whole query
   * when it cannot send to ff02::fb. With false, IPv6 is disabled in every
   * namespace and captures hold no IPv6 noise (MLD, router solicitations).
   */
  ipv6?: boolean;
}

export interface UdpLossOptions {
  /** Which hook drops: `in` (default), `out`, or both. */
  direction?: 'in' | 'out' | 'both';
  /** Only datagrams to this destination port (e.g. 5353). */
  port?: number;
}

export interface CaptureResult {
  /** The pcap file (deleted with the LAN). */
  path: string;
  packets: CapturedPacket[];
}

export interface Capture {
  path: string;
  /** Stop tcpdump (by PID) and read what it wrote. */
  stop(): Promise<CaptureResult>;
}

export interface LanHost {
  name: string;
  netns: string;
  /** The interface cabled to the bridge. */
  ifname: 'eth0';
  address: string;
  /** Link-local IPv6 address when `ipv6` is on. */
  address6?: string;
  /** A private scratch folder on the machine, removed with the LAN. */
  tmpdir: string;
  /** Spawn `cmd` inside this host (via `ip netns exec`); tracked and killed on destroy. */
  exec(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Run to completion inside this host. Never rejects on a non-zero exit. */
  run(cmd: string, args?: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * Cut this host off the LAN. `cable` (default) downs the bridge-side veth:
   * eth0 shows NO-CARRIER but keeps its address and routes, and sends succeed
   * into nothing, like an unplugged cable. `admin` downs eth0 itself: the
   * kernel drops the routes through it, so a plain multicast send fails with
   * ENETUNREACH (multicast-dns instead falls back to `lo` and "succeeds").
   */
  linkDown(mode?: 'cable' | 'admin'): Promise<void>;
  /** Undo linkDown (restores the multicast route after an `admin` down). */
  linkUp(): Promise<void>;
  /** Drop `percent` % of UDP datagrams at random (nftables `numgen random`). */
  addUdpLoss(percent: number, opts?: UdpLossOptions): Promise<void>;
  clearLoss(): Promise<void>;
  /** tcpdump on eth0 with a BPF filter (default `udp port 5353`); resolves once it listens. */
  capture(filter?: string): Promise<Capture>;
}

export interface Lan<H extends string = string> {
  id: string;
  bridgeNetns: string;
  hosts: Record<H, LanHost>;
  /** A host by name; throws for unknown names. */
  host(name: string): LanHost;
  /** Kill every process started here (by PID), delete the namespaces and the scratch folder. Idempotent. */
  destroy(): Promise<void>;
}

interface LanState {
  namespaces: string[];
  children: Set<ChildProcess>;
  dir: string;
  destroyed: boolean;
}

const live = new Set<LanState>();
let hooksInstalled = false;

/** Last-resort synchronous teardown, for process exit and signals. */
function destroySync(state: LanState): void {
  if (state.destroyed) return;
  state.destroyed = true;
  live.delete(state);
  for (const child of state.children) if (!exited(child)) killPid(child.pid, 'SIGKILL');
  for (const ns of state.namespaces) {
    for (const pid of netnsPidsSync(ns)) killPid(pid, 'SIGKILL');
    try {
      ipSync(['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
  rmSync(state.dir, { recursive: true, force: true });
}

function netnsPidsSync(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const s of [...live]) destroySync(s);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      for (const s of [...live]) destroySync(s);
      process.off(sig, handler);
      // Re-raise so the process ends the way it would have without us.
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

const NAME_RE = /^[a-z][a-z0-9]{0,9}$/;
const PREFIX_RE = /^rc-(\d+)-[0-9a-f]{4}-/;

/**
 * Forget namespaces left by earlier runs whose process is gone (a SIGKILLed
 * test runner cannot clean up). Only names made by this module are touched,
 * and only the name is removed.
 */
export function reapStaleLans(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const reaped: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const name = line.split(/\s+/)[0] ?? '';
    const m = PREFIX_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    if (spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' }).status === 0) reaped.push(name);
  }
  return reaped;
}

async function writeProc(ns: string, path: string, value: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'sh', '-c', `echo ${value} > ${path}`], (err, _o, stderr) =>
      err ? reject(new Error(`${ns}: ${path}=${value}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** Build the LAN. Call `destroy()` when done (it also runs on exit and on SIGINT/SIGTERM). */
export async function createLan<const H extends string>(opts: LanOptions<H>): Promise<Lan<H>> {
  const names = [...opts.hosts];
  if (names.length === 0) throw new Error('createLan: at least one host');
  for (const n of names) {
    if (!NAME_RE.test(n) || n === 'br') throw new Error(`createLan: bad host name ${JSON.stringify(n)}`);
  }
  if (new Set(names).size !== names.length) throw new Error('createLan: duplicate host names');
  if (names.length > 250) throw new Error('createLan: at most 250 hosts');
  const subnet = opts.subnet ?? 231;
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new Error('createLan: subnet must be 1..254');
  const ipv6 = opts.ipv6 ?? true;

  reapStaleLans();
  installHooks();
  const id = `rc-${process.pid}-${randomBytes(2).toString('hex')}`;
  const state: LanState = {
    namespaces: [],
    children: new Set(),
    dir: mkdtempSync(join(tmpdir(), `rollcall-${id}-`)),
    destroyed: false,
  };
  live.add(state);

  const bridgeNetns = `${id}-br`;
  const hostNs = (n: string) => `${id}-${n}`;
  try {
    await ip(['netns', 'add', bridgeNetns]);
    state.namespaces.push(bridgeNetns);
    // Snooping off: the bridge floods every multicast group like a dumb switch,
    // so delivery never depends on IGMP/MLD reports having been seen.
    await ip(['-n', bridgeNetns, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await ip(['-n', bridgeNetns, 'link', 'set', 'br0', 'up']);
    await Promise.all(
      names.map(async (n, i) => {
        const ns = hostNs(n);
        await ip(['netns', 'add', ns]);
        state.namespaces.push(ns);
        // Created inside the host namespace: the machine's own namespace never sees these links.
        await ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${n}`, 'netns', bridgeNetns]);
        await ip(['-n', bridgeNetns, 'link', 'set', `v${n}`, 'master', 'br0']);
        await ip(['-n', bridgeNetns, 'link', 'set', `v${n}`, 'up']);
        if (ipv6) {
          await writeProc(ns, '/proc/sys/net/ipv6/conf/eth0/accept_dad', '0');
          await writeProc(ns, '/proc/sys/net/ipv6/conf/eth0/router_solicitations', '0');
        } else {
          await writeProc(ns, '/proc/sys/net/ipv6/conf/all/disable_ipv6', '1');
          await writeProc(ns, '/proc/sys/net/ipv6/conf/default/disable_ipv6', '1');
        }
        await ip(['-n', ns, 'addr', 'add', `169.254.${subnet}.${i + 1}/24`, 'dev', 'eth0']);
        await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
        await ip(['-n', ns, 'link', 'set', 'eth0', 'multicast', 'on', 'up']);
        await ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
      }),
    );
  } catch (err) {
    destroySync(state);
    throw err;
  }

  const hosts = {} as Record<H, LanHost>;
  for (const [i, n] of names.entries()) {
    const ns = hostNs(n);
    let address6: string | undefined;
    if (ipv6) {
      const out = await ip(['-n', ns, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
      address6 = /inet6 (fe80::[0-9a-f:]+)\//.exec(out)?.[1];
    }
    hosts[n] = makeHost(state, {
      name: n,
      netns: ns,
      bridgeNetns,
      address: `169.254.${subnet}.${i + 1}`,
      address6,
    });
  }

  const lan: Lan<H> = {
    id,
    bridgeNetns,
    hosts,
    host(name: string): LanHost {
      const h = (hosts as Record<string, LanHost | undefined>)[name];
      if (!h) throw new Error(`no host ${name} on LAN ${id}`);
      return h;
    },
    async destroy(): Promise<void> {
      if (state.destroyed) return;
      const children = [...state.children].filter((c) => !exited(c));
      for (const c of children) killPid(c.pid, 'SIGTERM');
      await Promise.all(children.map((c) => waitExit(c, 2000)));
      for (const c of children) if (!exited(c)) killPid(c.pid, 'SIGKILL');
      await Promise.all(children.map((c) => waitExit(c, 1000)));
      // Daemons that forked (dbus-daemon under avahi) are still inside our namespaces.
      for (const ns of state.namespaces) for (const pid of netnsPidsSync(ns)) killPid(pid, 'SIGKILL');
      destroySync(state);
    },
  };
  return lan;
}

interface HostSpec {
  name: string;
  netns: string;
  bridgeNetns: string;
  address: string;
  address6: string | undefined;
}

function makeHost(state: LanState, spec: HostSpec): LanHost {
  const dir = join(state.dir, spec.name);
  mkdirSync(dir, { recursive: true });
  let captures = 0;
  const LOSS_TABLE = 'rollcall_loss';

  const exec = (cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess => {
    if (state.destroyed) throw new Error(`LAN is destroyed; cannot run ${cmd}`);
    const child = spawn('ip', ['netns', 'exec', spec.netns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
    state.children.add(child);
    child.once('exit', () => state.children.delete(child));
    // A spawn failure must not surface as an unhandled 'error' event.
    child.on('error', () => {});
    return child;
  };

  const run = (cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> => {
    const child = exec(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    return collect(child, opts);
  };

  const nft = async (script: string): Promise<void> => {
    const r = await run('nft', ['-f', '-'], { input: script, timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`nft in ${spec.netns}: ${r.stderr.trim()}`);
  };

  return {
    name: spec.name,
    netns: spec.netns,
    ifname: 'eth0',
    address: spec.address,
    ...(spec.address6 ? { address6: spec.address6 } : {}),
    tmpdir: dir,
    exec,
    run,
    async linkDown(mode: 'cable' | 'admin' = 'cable'): Promise<void> {
      if (mode === 'cable') await ip(['-n', spec.bridgeNetns, 'link', 'set', `v${spec.name}`, 'down']);
      else await ip(['-n', spec.netns, 'link', 'set', 'eth0', 'down']);
    },
    async linkUp(): Promise<void> {
      await ip(['-n', spec.bridgeNetns, 'link', 'set', `v${spec.name}`, 'up']);
      await ip(['-n', spec.netns, 'link', 'set', 'eth0', 'up']);
      // An admin down flushes the routes through eth0; the connected route
      // comes back with the address, the multicast one does not.
      await ip(['-n', spec.netns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0']);
    },
    async addUdpLoss(percent: number, opts: UdpLossOptions = {}): Promise<void> {
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
        throw new Error('addUdpLoss: percent must be an integer 0..100');
      }
      const dir = opts.direction ?? 'in';
      const port = opts.port === undefined ? '' : `udp dport ${Number(opts.port)} `;
      const rule = `meta l4proto udp ${port}numgen random mod 100 < ${percent} drop`;
      const chains: string[] = [];
      if (dir === 'in' || dir === 'both') {
        chains.push(`chain lossin { type filter hook input priority 0; policy accept; ${rule}; }`);
      }
      if (dir === 'out' || dir === 'both') {
        chains.push(`chain lossout { type filter hook output priority 0; policy accept; ${rule}; }`);
      }
      // Replace, not stack: a second call sets the new rate.
      await nft(`table inet ${LOSS_TABLE}\ndelete table inet ${LOSS_TABLE}\ntable inet ${LOSS_TABLE} {\n${chains.join('\n')}\n}\n`);
    },
    async clearLoss(): Promise<void> {
      await nft(`table inet ${LOSS_TABLE}\ndelete table inet ${LOSS_TABLE}\n`);
    },
    async capture(filter = 'udp port 5353'): Promise<Capture> {
      captures += 1;
      const path = join(dir, `capture-${captures}.pcap`);
      // -U writes each packet at once, so stop() never loses the tail.
      const child = exec('tcpdump', [
        '-i',
        'eth0',
        '-n',
        '-U',
        '-s',
        '0',
        '--immediate-mode',
        '-w',
        path,
        ...filter.split(/\s+/).filter(Boolean),
      ]);
      await waitForLine(child.stderr, /listening on/, 10_000, `tcpdump in ${spec.netns} to listen`);
      return {
        path,
        async stop(): Promise<CaptureResult> {
          if (!exited(child)) {
            killPid(child.pid, 'SIGINT');
            if (!(await waitExit(child, 3000))) await stopChild(child);
          }
          let data: Buffer;
          try {
            data = readFileSync(path);
          } catch {
            data = Buffer.alloc(0);
          }
          return { path, packets: parsePcap(data) };
        },
      };
    },
  };
}
