/**
 * The Go Micro gossip registry peer (test/peers/go-micro-gossip/main.go: Go Micro's registry
 * behaviour on Debian's memberlist 0.2.2 and golang-google-protobuf-dev), built offline once into
 * .cache/peers/go-micro-gossip/ keyed by a hash of its source and the Go version.
 *
 * {@link goMicroCodec} runs it without sockets (encode/decode commands, for golden bytes);
 * {@link startGoMicroGossip} runs a registry member on 127.0.0.1 that gossips real updates.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoProgram, GOPATH } from './go-build.js';
import { type GoLine, GoMemberlistProcess } from './go-memberlist.js';
import { peerSkip } from './peer-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'go-micro-gossip', 'main.go');

/** Why the peer cannot be built here, or undefined when it can. */
export function goMicroGossipMissing(): string | undefined {
  const fix = 'run `bash scripts/peers/gossip.sh` as root';
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return `go is not installed; ${fix}`;
  if (!existsSync(join(GOPATH, 'src', 'github.com', 'hashicorp', 'memberlist', 'memberlist.go'))) {
    return `golang-github-hashicorp-memberlist-dev is missing; ${fix}`;
  }
  if (!existsSync(join(GOPATH, 'src', 'google.golang.org', 'protobuf', 'types', 'dynamicpb')))
    return `golang-google-protobuf-dev is missing; ${fix}`;
  return undefined;
}

/** The `skip` option for a suite that needs the peer; under CI=true a missing peer throws. */
export function goMicroGossipSkip(): string | false {
  return peerSkip('Go Micro gossip peer', goMicroGossipMissing());
}

/** Path of the built binary; builds it (about a minute the first time) when the source or Go changed. */
export function buildGoMicroGossip(): Promise<string> {
  return buildGoProgram({ name: 'go-micro-gossip', source });
}

/** A peer process with no member: encode, decode, servicejson, statejson. */
export async function goMicroCodec(): Promise<GoMemberlistProcess> {
  const bin = await buildGoMicroGossip();
  return new GoMemberlistProcess(spawn(bin, ['golden'], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

export interface GoMicroGossipOptions {
  /** Member name; default `micro-<host>-<pid>`. */
  name?: string;
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default 0: a free port, reported in {@link GoMicroGossip.port}. */
  port?: number;
  /** Seed addresses (host:port); also the queue's NumNodes, as in Go Micro. */
  join?: string[];
  /** Secret key (16, 24 or 32 bytes), as Go Micro's `Secure(true)` + `Secret(k)`. */
  key?: Uint8Array;
  /** Offset of this peer's clock when it computes `expires`, in ms (clock-skew tests). */
  skewMs?: number;
  /** Handle each received message in its own goroutine, as Go Micro does (order lost). Default false. */
  async?: boolean;
  /** Keep memberlist's log on stderr (Go Micro discards it). */
  verbose?: boolean;
}

export interface GoMicroGossip extends GoMemberlistProcess {
  readonly name: string;
  readonly port: number;
  /** bind host:port, to use as a seed. */
  readonly address: string;
  /**
   * Registers a service (Go Micro JSON object) with a ttl; resolves with the Update bytes (hex).
   * `local`: held but not broadcast, so others learn it only from this member's push/pull state.
   */
  register(service: unknown, ttlMs: number, options?: { local?: boolean }): Promise<string>;
  deregister(service: unknown): Promise<string>;
  /** Go's registry state: `map[name][]Service`. */
  services(): Promise<Record<string, unknown[]>>;
  /** memberlist Join (a push/pull with join set, both states merged); resolves with how many answered. */
  join(addrs: string[]): Promise<number>;
}

/** Starts a member; resolves once its socket is open and its start-up join (if any) returned. */
export async function startGoMicroGossip(o: GoMicroGossipOptions = {}): Promise<GoMicroGossip> {
  const bin = await buildGoMicroGossip();
  const args = ['run', '-bind', o.bind ?? '127.0.0.1', '-port', String(o.port ?? 0)];
  if (o.name) args.push('-name', o.name);
  if (o.join?.length) args.push('-join', o.join.join(','));
  if (o.key) args.push('-key', Buffer.from(o.key).toString('hex'));
  if (o.skewMs) args.push('-skew', `${o.skewMs}ms`);
  if (o.async) args.push('-async');
  if (o.verbose) args.push('-quiet=false');
  const proc = new GoMemberlistProcess(spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let ready: GoLine;
  try {
    ready = await proc.waitFor((l) => l.event === 'ready' || l.event === 'fatal', 15_000, 'ready');
    if (ready.event === 'fatal') throw new Error(`go-micro-gossip failed to start: ${String(ready.error)}`);
    if (o.join?.length) await proc.waitFor((l) => l.event === 'joined', 30_000, 'start-up join');
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return Object.assign(proc, {
    name: String(ready.name),
    port: Number(ready.port),
    address: String(ready.bind),
    register: async (service: unknown, ttlMs: number, options: { local?: boolean } = {}) =>
      String((await proc.call({ cmd: 'register', service, ttlMs, local: options.local === true })).hex),
    deregister: async (service: unknown) => String((await proc.call({ cmd: 'deregister', service })).hex),
    services: async () => ((await proc.call({ cmd: 'services' })).services ?? {}) as Record<string, unknown[]>,
    join: async (addrs: string[]) => Number((await proc.call({ cmd: 'join', addrs })).joined),
  }) as GoMicroGossip;
}
