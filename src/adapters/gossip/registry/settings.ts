/**
 * The gossip adapter's options, checked and resolved once, with a typed error per bad value.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { RollcallError } from '../../../errors.js';
import type { Clock } from '../../../internal/clock.js';
import { splitHostPort } from '../../../internal/host-port.js';
import type { Address, Transport } from '../../../internal/transport.js';
import type { CommonOptions } from '../../../registry.js';
import { presets, type SwimConfig } from '../swim/config.js';
import { Keyring } from '../wire/keyring.js';

/** Timing presets: memberlist's DefaultLANConfig, DefaultWANConfig and DefaultLocalConfig. */
export type GossipPreset = 'lan' | 'wan' | 'local';
/** Who the cluster is: `memberlist` (Go Micro's gossip registry) or `serf` (serf agents, Consul's LAN pool). */
export type GossipProfile = 'memberlist' | 'serf';

export interface GossipOptions extends CommonOptions {
  /** Selects this adapter in `createRegistry`; ignored by `createGossipRegistry`. @default 'gossip' */
  kind?: 'gossip';
  /**
   * Seeds to join, as `host:port` (port 7946 when left out); a string may list several, comma
   * separated. Any live member will do. Without seeds this member starts a cluster others join.
   * @default `ROLLCALL_REGISTRY_ADDRESS` / `MICRO_REGISTRY_ADDRESS` (through createRegistry), else none
   */
  address?: string | readonly string[];
  /**
   * The IP literal to bind UDP and TCP on.
   * @default '0.0.0.0'
   */
  bind?: string;
  /**
   * The port for UDP and TCP; 0 lets the system choose one free for both.
   * @default 7946
   */
  port?: number | string;
  /**
   * The address other members reach this one at, `host` or `host:port`, when it differs from the
   * bind address (NAT, containers, a wildcard bind on a machine with several addresses).
   * @default the bind address, or the first non-loopback address for a wildcard bind
   */
  advertise?: string;
  /**
   * The member name, unique in the cluster.
   * @default `rollcall-<hostname>-<uuid>` (unique per process)
   */
  name?: string;
  /**
   * AES-GCM keys (16, 24 or 32 bytes; strings are base64): the first encrypts, every one decrypts,
   * so keys can be rotated (install everywhere, make primary, remove). Every member needs one.
   * @default none (plaintext)
   */
  keyring?: readonly (Uint8Array | string)[];
  /**
   * Cluster label (memberlist's Label): packets from a cluster with another label are dropped.
   * @default '' (none)
   */
  label?: string;
  /**
   * Timing: `lan` (memberlist's defaults), `wan` (slower, for high latency), `local` (one host, tests).
   * @default 'lan'
   */
  preset?: GossipPreset;
  /**
   * Which cluster this joins: `memberlist` speaks to Go Micro's gossip registry (delegate versions
   * 0,0,0); `serf` joins serf agents as a serf member (delegate versions 2..5, {@link tags} as its
   * Meta, a leave intent on close so serf lists it `left`), and registrations travel as serf user
   * events named `rollcall`, which serf agents relay. A registration too large for serf's 512-byte
   * user event goes over TCP to rollcall members only.
   * @default 'memberlist'
   */
  profile?: GossipProfile;
  /**
   * Serf tags of this member (`serf` profile only), as `serf members` lists them; the tag
   * `rollcall=1` is added, and marks rollcall members to each other.
   * @default {}
   */
  tags?: Readonly<Record<string, string>>;
  /**
   * How long a Go Micro registration is kept without a renewal, in ms. Go Micro stamps each update
   * with an absolute expiry from its sender's wall clock; the time left until then is clamped to
   * `[min, max]`, so a sender clock ahead cannot keep a node for ever and one behind cannot remove
   * it at once. Go Micro's push/pull state carries no expiry: nodes learned from it are kept `max`.
   * `min` should exceed Go Micro's re-register interval (30 s by default).
   * @default { min: 60000, max: 300000 }
   */
  goMicroTtl?: GoMicroTtlOptions;
}

/** The clamp window of {@link GossipOptions.goMicroTtl}, in ms. */
export interface GoMicroTtlOptions {
  /**
   * The least a Go Micro registration is kept, however far behind its sender's clock is.
   * @default 60000
   */
  min?: number;
  /**
   * The most a Go Micro registration is kept without a renewal, however far ahead its sender's clock is.
   * @default 300000
   */
  max?: number;
}

/** The resolved clamp window (ms). */
export type GoMicroTtlWindow = Required<GoMicroTtlOptions>;

/** Default {@link GossipOptions.goMicroTtl}: a minute at least (two re-register intervals), five at most. */
export const DEFAULT_GO_MICRO_TTL: Readonly<GoMicroTtlWindow> = Object.freeze({ min: 60_000, max: 300_000 });
/** The longest a timer can wait (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface GossipSettings {
  seeds: Address[];
  bind: string;
  port: number;
  /** Port undefined: the bound port. */
  advertise: { host: string; port: number | undefined } | undefined;
  name: string;
  keyring: Keyring | undefined;
  label: string;
  preset: GossipPreset;
  config: SwimConfig;
  profile: GossipProfile;
  /** Serf tags (`serf` profile); empty otherwise. */
  tags: Readonly<Record<string, string>>;
  goMicroTtl: GoMicroTtlWindow;
  /** Tests: an in-memory transport and a simulated clock instead of sockets and real time. */
  transport?: Transport;
  clock?: Clock;
}

export const DEFAULT_GOSSIP_PORT = 7946;

const fail = (message: string): never => {
  throw new RollcallError('INVALID_OPTIONS', `gossip: ${message}`, { adapter: 'gossip' });
};

/**
 * A seed or advertise address: `host:port` and `[v6]:port` through the shared parser, or a bare
 * host, bare IPv6 or `[v6]` on the default port (seeds are often written without one).
 */
function parseGossipAddress(text: string, what: string, defaultPort = DEFAULT_GOSSIP_PORT): Address {
  const s = text.trim();
  // Bare forms take the default port; anything else with a colon must be host:port.
  const bare = isIP(s) === 6 ? s : (/^\[([^\]]+)\]$/.exec(s)?.[1] ?? (s.includes(':') ? undefined : s));
  const split = bare === undefined ? splitHostPort(s) : undefined;
  const host = bare ?? split?.host ?? '';
  const port = bare !== undefined ? String(defaultPort) : (split?.port ?? '');
  const n = Number(port);
  if (!host || !/^\d+$/.test(port) || n < 1 || n > 65535) fail(`${what} ${JSON.stringify(text)} is not host:port`);
  return { host, port: n };
}

export function resolveGossipSettings(options: GossipOptions): GossipSettings {
  if (typeof options !== 'object' || options === null) return fail('options must be an object');
  const raw = options.address === undefined ? [] : typeof options.address === 'string' ? options.address.split(',') : options.address;
  if (!Array.isArray(raw)) fail('address must be a string or an array of strings');
  const seeds = raw
    .map((a) => (typeof a === 'string' ? a.trim() : fail(`address entries must be strings, got ${JSON.stringify(a)}`)))
    .filter((a) => a.length > 0)
    .map((a) => parseGossipAddress(a, 'seed address'));
  const bind = options.bind ?? '0.0.0.0';
  if (typeof bind !== 'string' || isIP(bind) === 0) fail(`bind ${JSON.stringify(bind)} is not an IP literal (0.0.0.0, ::, or an address)`);
  const port = options.port === undefined ? DEFAULT_GOSSIP_PORT : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`port ${JSON.stringify(options.port)} is not an integer in 0..65535`);
  let advertise: GossipSettings['advertise'];
  if (options.advertise !== undefined) {
    if (typeof options.advertise !== 'string') fail('advertise must be a string');
    const text = options.advertise.trim();
    const bare = isIP(text) !== 0;
    const parsed = bare ? { host: text, port: undefined } : parseGossipAddress(text, 'advertise address');
    if (isIP(parsed.host) === 0) fail(`advertise ${JSON.stringify(options.advertise)} must be an IP address`);
    advertise = parsed;
  }
  const name = options.name ?? `rollcall-${hostname()}-${randomUUID()}`;
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) fail('name must be a non-empty string of at most 255 characters');
  let keyring: Keyring | undefined;
  if (options.keyring !== undefined) {
    if (!Array.isArray(options.keyring) || options.keyring.length === 0) fail('keyring must be a non-empty array of keys');
    const keys = options.keyring.map((k, i) => {
      const bytes =
        typeof k === 'string' ? Buffer.from(k, 'base64') : k instanceof Uint8Array ? k : fail(`keyring[${i}] must be bytes or base64`);
      if (![16, 24, 32].includes(bytes.length)) fail(`keyring[${i}] is ${bytes.length} bytes; a key is 16, 24 or 32 bytes`);
      return Uint8Array.from(bytes);
    });
    keyring = new Keyring(keys);
  }
  const label = options.label ?? '';
  if (typeof label !== 'string' || Buffer.byteLength(label) > 255) fail('label must be a string of at most 255 bytes');
  const preset = options.preset ?? 'lan';
  if (!Object.hasOwn(presets, preset)) fail(`preset ${JSON.stringify(preset)} is not one of lan, wan, local`);
  const profile = options.profile ?? 'memberlist';
  if (profile !== 'memberlist' && profile !== 'serf') {
    throw new RollcallError('UNSUPPORTED', `gossip: profile ${JSON.stringify(profile)} is not available; use 'memberlist' or 'serf'`, {
      adapter: 'gossip',
    });
  }
  const tags = resolveTags(options.tags, profile);
  const goMicroTtl = resolveGoMicroTtl(options.goMicroTtl);
  return { seeds, bind, port, advertise, name, keyring, label, preset, config: presets[preset], profile, tags, goMicroTtl };
}

/** Serf's Meta holds at most 512 bytes (memberlist's MetaMaxSize); our marker tag takes 13 of them. */
const MAX_TAG_BYTES = 512 - 16;

function resolveTags(value: GossipOptions['tags'], profile: GossipProfile): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  if (profile !== 'serf') return fail("tags are serf tags: they need profile 'serf'");
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('tags must be an object of strings');
  let bytes = 3;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`tag ${JSON.stringify(k)} must be a string`);
    if (k === 'rollcall') fail("the tag 'rollcall' is set by rollcall itself");
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 6;
  }
  if (bytes > MAX_TAG_BYTES) fail(`tags take about ${bytes} bytes; serf's Meta holds ${MAX_TAG_BYTES} beside rollcall's own tag`);
  return Object.freeze({ ...value });
}

/** Checks the clamp window: whole ms, 1 <= min <= max <= 2^31 - 1. */
function resolveGoMicroTtl(value: GossipOptions['goMicroTtl']): GoMicroTtlWindow {
  if (value === undefined) return { ...DEFAULT_GO_MICRO_TTL };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('goMicroTtl must be an object { min, max } in ms');
  const bound = (key: 'min' | 'max'): number => {
    const v = value[key] ?? DEFAULT_GO_MICRO_TTL[key];
    if (!Number.isInteger(v) || v < 1 || v > MAX_TIMER_MS)
      fail(`goMicroTtl.${key} ${JSON.stringify(value[key])} is not a whole number of ms in 1..${MAX_TIMER_MS}`);
    return v;
  };
  const min = bound('min');
  const max = bound('max');
  if (min > max) fail(`goMicroTtl.min (${min}) is above goMicroTtl.max (${max})`);
  return { min, max };
}
