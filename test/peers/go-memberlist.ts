/**
 * The Go memberlist peer (test/peers/go-memberlist/main.go on Debian's
 * golang-github-hashicorp-memberlist-dev 0.2.2 and go-msgpack 0.5.5), built offline once into
 * .cache/peers/go-memberlist/ keyed by a hash of its sources and the Go version. The files in
 * go-memberlist/overlay/ join the memberlist package through `go build -overlay`, exposing its
 * unexported encoders for golden bytes; memberlist's own source stays untouched.
 *
 * Two ways to run it: {@link goldenCodec} (no sockets: encode and decode commands only) and
 * {@link startGoMemberlist} (a real member on 127.0.0.1 that also answers the encoder commands).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildGoProgram, GOPATH } from './go-build.js';
import { peerSkip } from './peer-process.js';
import { stopChild } from './process.js';

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = join(here, 'go-memberlist');
const source = join(sourceDir, 'main.go');
const overlayDir = join(sourceDir, 'overlay');
const MEMBERLIST_DIR = join(GOPATH, 'src', 'github.com', 'hashicorp', 'memberlist');

/** Why the peer cannot be built here, or undefined when it can. */
export function goMemberlistMissing(): string | undefined {
  const fix = 'run `bash scripts/peers/gossip.sh` as root';
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return `go is not installed; ${fix}`;
  if (!existsSync(join(MEMBERLIST_DIR, 'memberlist.go'))) return `golang-github-hashicorp-memberlist-dev is missing; ${fix}`;
  if (!existsSync(join(GOPATH, 'src', 'github.com', 'hashicorp', 'go-msgpack', 'codec'))) {
    return `golang-github-hashicorp-go-msgpack-dev is missing; ${fix}`;
  }
  return undefined;
}

/**
 * The `skip` option for a suite that needs the peer: false when it can run, a reason to skip
 * otherwise; under CI=true a missing peer throws, because there it is a setup bug.
 */
export function goMemberlistSkip(): string | false {
  return peerSkip('Go memberlist peer', goMemberlistMissing());
}

/** Path of the built binary; builds it when a source file or Go changed. */
export function buildGoMemberlist(): Promise<string> {
  const overlay = Object.fromEntries(
    readdirSync(overlayDir)
      .filter((f) => f.endsWith('.go'))
      .map((f) => [join(MEMBERLIST_DIR, `zz_rollcall_${f}`), join(overlayDir, f)]),
  );
  return buildGoProgram({ name: 'go-memberlist', source, overlay });
}

/** A reply or event line from the peer. */
export type GoLine = Record<string, unknown> & { event?: string; reply?: string; id?: string; error?: string };

/** One running peer process speaking JSON lines. */
export class GoMemberlistProcess {
  /** Every event line so far (replies are handed to their request instead). */
  readonly events: GoLine[] = [];
  stderr = '';
  /** Characters of stderr received so far (the tail kept in {@link stderr} may be shorter). */
  stderrReceived = 0;

  /** What stderr said since `mark` (an earlier {@link stderrReceived}), as far as the kept tail reaches. */
  stderrSince(mark: number): string {
    const back = this.stderrReceived - mark;
    return back <= 0 ? '' : this.stderr.slice(-back);
  }
  private nextId = 0;
  private readonly pending = new Map<string, (line: GoLine) => void>();
  private readonly watchers = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      // Keep the tail only: memberlist logs every probe at debug level.
      this.stderr = (this.stderr + d).slice(-64 * 1024);
      this.stderrReceived += d.length;
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (text) => {
      let line: GoLine;
      try {
        line = JSON.parse(text) as GoLine;
      } catch {
        return;
      }
      if (line.reply !== undefined && line.id !== undefined && this.pending.has(line.id)) {
        const done = this.pending.get(line.id)!;
        this.pending.delete(line.id);
        done(line);
        return;
      }
      this.events.push(line);
      for (const w of this.watchers) w();
    });
  }

  /** Sends one command and resolves with its reply line. */
  request(cmd: Record<string, unknown>, timeoutMs = 15_000): Promise<GoLine> {
    const id = String(++this.nextId);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        fail(new Error(`go-memberlist: no reply to ${JSON.stringify(cmd).slice(0, 200)}\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.pending.set(id, (line) => {
        clearTimeout(timer);
        ok(line);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  /** Sends a command whose reply must not carry an error, and returns it. */
  async call(cmd: Record<string, unknown>, timeoutMs?: number): Promise<GoLine> {
    const line = await this.request(cmd, timeoutMs);
    if (line.error !== undefined) throw new Error(`go-memberlist ${String(cmd.cmd)}: ${line.error}`);
    return line;
  }

  /** Resolves with the first event (past or future) that `match` accepts. */
  waitFor(match: (line: GoLine) => boolean, timeoutMs = 15_000, what = 'event'): Promise<GoLine> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((ok, fail) => {
      const check = () => {
        const found = this.events.find(match);
        if (!found) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        ok(found);
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        fail(new Error(`go-memberlist: timed out waiting for ${what}\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.watchers.add(check);
    });
  }

  /** Ends the process by its PID (closing stdin first lets it shut memberlist down cleanly). */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    await stopChild(this.child, 2000);
  }
}

/** A peer process with no member running: only the encoder commands (golden bytes, Go decoding). */
export async function goldenCodec(): Promise<GoMemberlistProcess> {
  const bin = await buildGoMemberlist();
  return new GoMemberlistProcess(spawn(bin, ['golden'], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

export interface GoMemberlistOptions {
  name: string;
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default 0: a free port, reported in {@link GoMemberlist.port}. */
  port?: number;
  advertise?: string;
  /** host:port addresses to join at start. */
  join?: string[];
  /** Keyring keys of 16, 24 or 32 bytes; the first is primary. */
  keys?: Uint8Array[];
  /** Default true, as in memberlist's presets. */
  compression?: boolean;
  /** Protocol version to speak; default 2 (memberlist's default). */
  protocol?: number;
  /** Delegate versions [min, max, cur]: [0, 0, 0] for plain memberlist, [2, 5, 4] like serf. */
  delegateVersions?: [number, number, number];
  meta?: Uint8Array;
  userState?: Uint8Array;
  ackPayload?: Uint8Array;
  /** memberlist preset; default `local`. */
  config?: 'lan' | 'wan' | 'local';
  /** Discard memberlist's log instead of keeping its tail. */
  quiet?: boolean;
}

export interface GoMemberlist extends GoMemberlistProcess {
  readonly name: string;
  readonly port: number;
  /** bind host:port, to join or send to. */
  readonly address: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Starts a member; resolves once its sockets are open (and its start-up join, if any, returned). */
export async function startGoMemberlist(o: GoMemberlistOptions): Promise<GoMemberlist> {
  const bin = await buildGoMemberlist();
  const args = ['run', '-name', o.name, '-bind', o.bind ?? '127.0.0.1', '-port', String(o.port ?? 0)];
  if (o.advertise) args.push('-advertise', o.advertise);
  if (o.join?.length) args.push('-join', o.join.join(','));
  if (o.keys?.length) args.push('-key', o.keys.map(hex).join(','));
  if (o.compression === false) args.push('-compression=false');
  if (o.protocol !== undefined) args.push('-protocol', String(o.protocol));
  if (o.delegateVersions) args.push('-delegate-versions', o.delegateVersions.join(','));
  if (o.meta?.length) args.push('-meta', hex(o.meta));
  if (o.userState?.length) args.push('-user-state', hex(o.userState));
  if (o.ackPayload?.length) args.push('-ack-payload', hex(o.ackPayload));
  args.push('-config', o.config ?? 'local');
  if (o.quiet) args.push('-quiet');
  const proc = new GoMemberlistProcess(spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let ready: GoLine;
  try {
    ready = await proc.waitFor((l) => l.event === 'ready' || l.event === 'fatal', 15_000, 'ready');
    if (ready.event === 'fatal') throw new Error(`go-memberlist failed to start: ${String(ready.error)}`);
    if (o.join?.length) await proc.waitFor((l) => l.event === 'joined', 30_000, 'start-up join');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return Object.assign(proc, { name: String(ready.name), port: Number(ready.port), address: String(ready.bind) }) as GoMemberlist;
}
