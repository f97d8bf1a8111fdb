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
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

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
// Small process helpers
// ---------------------------------------------------------------------------

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  /** Kill the process (by PID) after this long; default 30 s. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function collect(child: ChildProcess, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => killPid(child.pid, 'SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function killPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Stop a child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (exited(child)) return;
  killPid(child.pid, 'SIGTERM');
  if (await waitExit(child, graceMs)) return;
  killPid(child.pid, 'SIGKILL');
  await waitExit(child, 2000);
}

/**
 * Resolve with the first line of `stream` (or of any of several streams, e.g.
 * a child's stdout and stderr) that matches; reject on timeout or when every
 * stream has ended first.
 */
export function waitForLine(
  stream: Readable | null | undefined | ReadonlyArray<Readable | null | undefined>,
  match: RegExp | ((line: string) => boolean),
  timeoutMs = 10_000,
  what = 'line',
): Promise<string> {
  const streams = (Array.isArray(stream) ? stream : [stream]).filter((s): s is Readable => !!s);
  if (streams.length === 0) return Promise.reject(new Error(`no stream to wait for ${what}`));
  const test = typeof match === 'function' ? match : (l: string) => match.test(l);
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    let open = streams.length;
    const interfaces = streams.map((input) => createInterface({ input }));
    const done = (fn: () => void) => {
      clearTimeout(timer);
      for (const rl of interfaces) {
        rl.off('line', onLine);
        rl.off('close', onClose);
      }
      fn();
    };
    const onLine = (line: string) => {
      seen.push(line);
      if (test(line)) done(() => resolve(line));
    };
    const onClose = () => {
      open -= 1;
      if (open === 0) done(() => reject(new Error(`output ended before ${what}; last lines:\n${seen.slice(-20).join('\n')}`)));
    };
    const timer = setTimeout(
      () =>
        done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${seen.slice(-20).join('\n')}`))),
      timeoutMs,
    );
    for (const rl of interfaces) {
      rl.on('line', onLine);
      rl.on('close', onClose);
    }
  });
}

/** Every JSON object printed one per line on `stream`. */
export function jsonLines<T = Record<string, unknown>>(stream: Readable | null | undefined, onItem: (item: T) => void): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    const s = line.trim();
    if (!s.startsWith('{')) return;
    try {
      onItem(JSON.parse(s) as T);
    } catch {
      // not ours
    }
  });
}

function ipSync(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

// ---------------------------------------------------------------------------
// pcap reading (just enough for UDP over Ethernet / Linux cooked / raw IP)
// ---------------------------------------------------------------------------

export interface CapturedPacket {
  /** Capture time, ms since the epoch (µs resolution). */
  timeMs: number;
  family: 4 | 6;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** IPv4 TTL or IPv6 hop limit (mDNS wants 255). */
  ttl: number;
  /** UDP payload. */
  payload: Buffer;
}

function ipv6String(b: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(off + i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** UDP datagrams in a classic pcap file; other packets are ignored. */
export function parsePcap(data: Buffer): CapturedPacket[] {
  if (data.length < 24) return [];
  const magicLE = data.readUInt32LE(0);
  let le: boolean;
  let nano = false;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = data.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) throw new Error('not a pcap file');
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const linkType = u32(20);
  const out: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= data.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const start = off + 16;
    off = start + incl;
    if (off > data.length) break;
    const pkt = data.subarray(start, start + incl);
    let l3 = 0;
    let etherType = 0;
    if (linkType === 1) {
      if (pkt.length < 14) continue;
      etherType = pkt.readUInt16BE(12);
      l3 = 14;
      if (etherType === 0x8100 && pkt.length >= 18) {
        etherType = pkt.readUInt16BE(16);
        l3 = 18;
      }
    } else if (linkType === 113) {
      if (pkt.length < 16) continue;
      etherType = pkt.readUInt16BE(14);
      l3 = 16;
    } else if (linkType === 276) {
      if (pkt.length < 20) continue;
      etherType = pkt.readUInt16BE(0);
      l3 = 20;
    } else if (linkType === 101 || linkType === 12) {
      etherType = pkt.length > 0 && pkt[0]! >> 4 === 6 ? 0x86dd : 0x0800;
    } else {
      continue;
    }
    const timeMs = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    if (etherType === 0x0800) {
      if (pkt.length < l3 + 20) continue;
      const ihl = (pkt[l3]! & 0x0f) * 4;
      if (pkt[l3 + 9] !== 17) continue;
      const fragment = pkt.readUInt16BE(l3 + 6) & 0x3fff;
      if (fragment !== 0) continue;
      const u = l3 + ihl;
      if (pkt.length < u + 8) continue;
      const udpLen = pkt.readUInt16BE(u + 4);
      out.push({
        timeMs,
        family: 4,
        src: `${pkt[l3 + 12]}.${pkt[l3 + 13]}.${pkt[l3 + 14]}.${pkt[l3 + 15]}`,
        dst: `${pkt[l3 + 16]}.${pkt[l3 + 17]}.${pkt[l3 + 18]}.${pkt[l3 + 19]}`,
        srcPort: pkt.readUInt16BE(u),
        dstPort: pkt.readUInt16BE(u + 2),
        ttl: pkt[l3 + 8]!,
        payload: Buffer.from(pkt.subarray(u + 8, Math.min(pkt.length, u + udpLen))),
      });
    } else if (etherType === 0x86dd) {
      if (pkt.length < l3 + 48 || pkt[l3 + 6] !== 17) continue;
      const u = l3 + 40;
      const udpLen = pkt.readUInt16BE(u + 4);
      out.push({
        timeMs,
        family: 6,
        src: ipv6String(pkt, l3 + 8),
        dst: ipv6String(pkt, l3 + 24),
        srcPort: pkt.readUInt16BE(u),
        dstPort: pkt.readUInt16BE(u + 2),
        ttl: pkt[l3 + 7]!,
        payload: Buffer.from(pkt.subarray(u + 8, Math.min(pkt.length, u + udpLen))),
      });
    }
  }
  return out;
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

// ---------------------------------------------------------------------------
// avahi-daemon inside a host
// ---------------------------------------------------------------------------

export interface AvahiOptions {
  /** avahi's host name (becomes `<hostName>.local`). */
  hostName: string;
  /** Extra lines appended to the [server] section. */
  serverConfig?: string[];
  /** How long to wait for "Server startup complete"; default 15 s. */
  timeoutMs?: number;
}

export interface AvahiService {
  /** `+` (found) or `=` (resolved) lines of avahi-browse -p. */
  event: '+' | '=' | '-';
  iface: string;
  protocol: string;
  name: string;
  type: string;
  domain: string;
  hostName?: string;
  address?: string;
  port?: number;
  txt?: string[];
}

export interface AvahiPublication {
  /** The name avahi established (it may differ after a conflict). */
  name: string;
  pid: number;
  stop(): Promise<void>;
}

export interface AvahiDaemon {
  pid: number;
  host: LanHost;
  hostName: string;
  /** Everything the daemon logged so far. */
  log(): string;
  /** `avahi-browse -rpt TYPE`, resolved entries only by default. */
  browse(type: string, opts?: { timeoutMs?: number; all?: boolean }): Promise<AvahiService[]>;
  /** `avahi-publish -s NAME TYPE PORT TXT...`, kept running until stopped; resolves once established. */
  publish(name: string, type: string, port: number, txt?: readonly string[]): Promise<AvahiPublication>;
  stop(): Promise<void>;
}

function unescapeAvahi(s: string): string {
  return s.replace(/\\(\d{3}|.)/g, (_m, g: string) => (g.length === 3 ? String.fromCharCode(Number(g)) : g));
}

/** Parse `avahi-browse -p` output. */
export function parseAvahiBrowse(out: string): AvahiService[] {
  const res: AvahiService[] = [];
  for (const line of out.split('\n')) {
    if (!/^[+=-];/.test(line)) continue;
    // Fields are ';'-separated; avahi escapes ';' inside names as \059.
    const f = line.split(';');
    const svc: AvahiService = {
      event: f[0] as '+' | '=' | '-',
      iface: f[1] ?? '',
      protocol: f[2] ?? '',
      name: unescapeAvahi(f[3] ?? ''),
      type: f[4] ?? '',
      domain: f[5] ?? '',
    };
    if (svc.event === '=') {
      svc.hostName = f[6];
      svc.address = f[7];
      svc.port = Number(f[8]);
      const txt = f.slice(9).join(';');
      svc.txt = [...txt.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unescapeAvahi(m[1] ?? ''));
    }
    res.push(svc);
  }
  return res;
}

function dbusConfig(): string {
  // A bus of its own with no service directories: nothing can be
  // bus-activated, so a client call can never start a second daemon.
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`;
}

let avahiCount = 0;

/**
 * Run avahi-daemon in the foreground inside `host`, in a mount namespace of
 * its own with a tmpfs on /run and a private dbus-daemon, so it neither sees
 * nor disturbs any bus or daemon of the machine. browse/publish enter that
 * same mount namespace (nsenter) to reach its D-Bus.
 */
export async function startAvahi(host: LanHost, opts: AvahiOptions): Promise<AvahiDaemon> {
  if (!/^[A-Za-z0-9-]{1,63}$/.test(opts.hostName)) throw new Error(`startAvahi: bad host name ${opts.hostName}`);
  avahiCount += 1;
  const dir = join(host.tmpdir, `avahi-${avahiCount}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'dbus.conf'), dbusConfig());
  writeFileSync(
    join(dir, 'avahi.conf'),
    [
      '[server]',
      `host-name=${opts.hostName}`,
      'domain-name=local',
      'use-ipv4=yes',
      'use-ipv6=no',
      `allow-interfaces=${host.ifname}`,
      'enable-dbus=yes',
      'ratelimit-interval-usec=1000000',
      'ratelimit-burst=1000',
      ...(opts.serverConfig ?? []),
      '[wide-area]',
      'enable-wide-area=no',
      '[publish]',
      'publish-hinfo=no',
      'publish-workstation=no',
      '[reflector]',
      'enable-reflector=no',
      '',
    ].join('\n'),
  );
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mkdir -p /run/dbus /run/avahi-daemon',
    `dbus-daemon --config-file="$D/dbus.conf" --nofork --nopidfile --nosyslog &`,
    'echo $! > "$D/dbus.pid"',
    'i=0',
    'while [ ! -S /run/dbus/system_bus_socket ]; do',
    '  i=$((i+1)); if [ $i -gt 250 ]; then echo "dbus-daemon did not start" >&2; exit 1; fi',
    '  sleep 0.02',
    'done',
    // exec keeps one PID from `ip netns exec` down to avahi-daemon.
    'exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$D/avahi.conf"',
  ].join('\n');
  const child = host.exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...process.env, D: dir },
  });
  let logText = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    logText += d;
  });
  const readDbusPid = (): number | undefined => {
    try {
      const n = Number(readFileSync(join(dir, 'dbus.pid'), 'utf8').trim());
      return n > 1 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const pid = child.pid;
  if (!pid) throw new Error('startAvahi: spawn failed');
  const publications = new Set<ChildProcess>();

  const stop = async (): Promise<void> => {
    await Promise.all([...publications].map((p) => stopChild(p, 1000)));
    await stopChild(child, 3000);
    const dbusPid = readDbusPid();
    if (dbusPid && alive(dbusPid)) {
      killPid(dbusPid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(dbusPid); i++) await new Promise((r) => setTimeout(r, 20));
      killPid(dbusPid, 'SIGKILL');
    }
  };

  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    logText += d;
  });

  try {
    await waitForLine(child.stderr, /Server startup complete/, opts.timeoutMs ?? 15_000, `avahi-daemon in ${host.netns}`);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${logText}`);
  }

  const inside = (cmd: string, args: string[]): [string, string[]] => ['nsenter', ['-t', String(pid), '-m', '--', cmd, ...args]];

  return {
    pid,
    host,
    hostName: opts.hostName,
    log: () => logText,
    async browse(type: string, bopts: { timeoutMs?: number; all?: boolean } = {}): Promise<AvahiService[]> {
      const [cmd, args] = inside('avahi-browse', ['-rpt', type]);
      const r = await host.run(cmd, args, { timeoutMs: bopts.timeoutMs ?? 10_000 });
      if (r.code !== 0) throw new Error(`avahi-browse ${type}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
      const all = parseAvahiBrowse(r.stdout);
      return bopts.all ? all : all.filter((s) => s.event === '=');
    },
    async publish(name: string, type: string, port: number, txt: readonly string[] = []): Promise<AvahiPublication> {
      const [cmd, args] = inside('avahi-publish', ['-s', name, type, String(port), ...txt]);
      const p = host.exec(cmd, args);
      publications.add(p);
      p.once('exit', () => publications.delete(p));
      let line: string;
      try {
        // avahi-publish reports on stderr; stdout is watched too in case that changes.
        line = await waitForLine([p.stdout, p.stderr], /Established under name/, 10_000, `avahi-publish ${name}`);
      } catch (err) {
        await stopChild(p, 500);
        throw err;
      }
      const established = /Established under name '(.*)'/.exec(line)?.[1] ?? name;
      return { name: established, pid: p.pid ?? 0, stop: () => stopChild(p, 1000) };
    },
    stop,
  };
}
