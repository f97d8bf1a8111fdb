/**
 * Options plus Consul's own environment variables become one validated set of settings. Explicit
 * options win over the environment, field by field, so a deployment's `CONSUL_HTTP_*` variables
 * work unchanged and code can still override one of them.
 * @module
 */
import { readFileSync } from 'node:fs';
import { RollcallError } from '../../errors.js';
import { joinHostPort } from '../../service.js';
import { checkDuration } from '../../time.js';
import type { ConsulCheck, ConsulOptions, ConsulTlsOptions } from './index.js';

export interface AgentAddress {
  /** `http://host:port`: what undici connects to. */
  readonly origin: string;
  /** `host:port`, for messages. */
  readonly label: string;
}

export interface TlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

export interface ConsulSettings {
  readonly agents: readonly AgentAddress[];
  readonly token: string | undefined;
  readonly datacenter: string | undefined;
  readonly consistency: 'default' | 'stale' | 'consistent';
  readonly tls: TlsMaterial | undefined;
  readonly requestTimeout: number;
  /** Connections per agent for registrations, heartbeats and lookups. */
  readonly requestConnections: number;
  /** Connections per agent for blocking queries (and aggregate-mode re-reads). */
  readonly watchConnections: number;
  readonly wait: number;
  readonly includeWarning: boolean;
  readonly checks: ConsulOptions['checks'];
  /** Largest answer about one service, the catalog or the members; every check in the datacenter may be {@link AGGREGATE_FACTOR} times it. */
  readonly maxResponseBytes: number;
}

/** `/v1/health/state/any` lists every check in the datacenter: it may be this many times `maxResponseBytes`. */
export const AGGREGATE_FACTOR = 4;
const DEFAULT_MAX_RESPONSE_BYTES = 16 << 20;
const MIN_MAX_RESPONSE_BYTES = 64 << 10;

const DEFAULT_ADDRESS = '127.0.0.1:8500';
const DEFAULT_PORT = 8500;
export const DEFAULT_MAX_CONNECTIONS = 8;
/** Aggregate mode needs two blocking queries plus one connection for re-reads, and registrations need one. */
const MIN_CONNECTIONS = 4;
/** Consul's own cap on `wait`. */
const MAX_WAIT = 600_000;

const invalid = (message: string) => new RollcallError('INVALID_OPTIONS', message, { adapter: 'consul' });

const truthy = (value: string | undefined): boolean | undefined => {
  if (value === undefined || value.trim() === '') return undefined;
  return /^(1|t|true|yes|on)$/i.test(value.trim());
};

export function resolveSettings(options: ConsulOptions, env: NodeJS.ProcessEnv): ConsulSettings {
  if (typeof options !== 'object' || options === null) throw invalid(`options must be an object, got ${typeof options}`);
  const tlsOption = parseTlsOption(options.tls);
  const tlsFromEnv = truthy(env.CONSUL_HTTP_SSL);
  const useTls = tlsOption !== undefined ? tlsOption !== false : tlsFromEnv === true;

  const rawAddresses = options.address ?? (env.CONSUL_HTTP_ADDR?.trim() || DEFAULT_ADDRESS);
  const list = (typeof rawAddresses === 'string' ? rawAddresses.split(',') : [...rawAddresses])
    .map((a) => String(a).trim())
    .filter(Boolean);
  if (list.length === 0) throw invalid('address: give at least one Consul agent address');
  const agents = dedupe(list.map((a) => parseAddress(a, useTls)));

  const token = options.token ?? (env.CONSUL_HTTP_TOKEN?.trim() || undefined);
  if (token !== undefined && (typeof token !== 'string' || /[\r\n]/.test(token))) throw invalid('token must be a single-line string');

  const datacenter = options.datacenter;
  if (datacenter !== undefined && (typeof datacenter !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(datacenter))) {
    throw invalid(`datacenter: ${JSON.stringify(datacenter)} is not a datacenter name`);
  }
  const consistency = options.consistency ?? 'default';
  if (!['default', 'stale', 'consistent'].includes(consistency)) {
    throw invalid(`consistency must be "default", "stale" or "consistent", got ${JSON.stringify(consistency)}`);
  }

  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < MIN_CONNECTIONS) {
    throw invalid(`maxConnections must be an integer >= ${MIN_CONNECTIONS}, got ${String(maxConnections)}`);
  }
  // A quarter of the cap (two at the default) keeps heartbeats flowing while a burst of lookups or
  // registrations is queued; with a small cap one must do, because blocking queries need three.
  const requestConnections = maxConnections >= DEFAULT_MAX_CONNECTIONS ? Math.max(2, Math.floor(maxConnections / 4)) : 1;

  const wait = options.wait === undefined ? 300_000 : checkDuration(options.wait, 'consul: wait', { min: 1_000 });
  if (wait > MAX_WAIT) throw invalid(`wait must be at most ${MAX_WAIT} ms (Consul's limit), got ${wait}`);

  if (options.checks !== undefined && typeof options.checks !== 'function') for (const check of options.checks) validateCheck(check);

  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < MIN_MAX_RESPONSE_BYTES) {
    throw invalid(`maxResponseBytes must be an integer >= ${MIN_MAX_RESPONSE_BYTES}, got ${String(maxResponseBytes)}`);
  }

  return {
    agents,
    token,
    datacenter,
    consistency,
    tls: useTls || agents.some((a) => a.origin.startsWith('https:')) ? tlsMaterial(tlsOption, env) : undefined,
    requestTimeout:
      options.requestTimeout === undefined ? 10_000 : checkDuration(options.requestTimeout, 'consul: requestTimeout', { min: 10 }),
    requestConnections,
    watchConnections: maxConnections - requestConnections,
    wait,
    includeWarning: options.includeWarning === true,
    checks: options.checks,
    maxResponseBytes,
  };
}

/** `tls` may also arrive as a string from a registry URL (`consul://host?tls=true`). */
function parseTlsOption(value: unknown): false | ConsulTlsOptions | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value ? {} : false;
  if (typeof value === 'string') {
    const flag = truthy(value);
    if (flag === undefined) throw invalid(`tls must be true or false, got ${JSON.stringify(value)}`);
    return flag ? {} : false;
  }
  if (typeof value === 'object' && !Array.isArray(value)) return value as ConsulTlsOptions;
  throw invalid(`tls must be a boolean or an object, got ${typeof value}`);
}

function tlsMaterial(option: false | ConsulTlsOptions | undefined, env: NodeJS.ProcessEnv): TlsMaterial {
  const o = option || {};
  const pick = (field: 'ca' | 'cert' | 'key', variable: string): string | undefined => {
    const given = o[field];
    if (given !== undefined) return pem(given, `tls.${field}`);
    const fromEnv = env[variable]?.trim();
    return fromEnv ? pem(fromEnv, variable) : undefined;
  };
  const ca = pick('ca', 'CONSUL_CACERT');
  const cert = pick('cert', 'CONSUL_CLIENT_CERT');
  const key = pick('key', 'CONSUL_CLIENT_KEY');
  if ((cert === undefined) !== (key === undefined)) throw invalid('tls: a client certificate needs its key, and the other way round');
  const verify = o.verify ?? truthy(env.CONSUL_HTTP_SSL_VERIFY) !== false;
  const servername = o.serverName ?? (env.CONSUL_TLS_SERVER_NAME?.trim() || undefined);
  return {
    rejectUnauthorized: verify,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert, key } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}

/** A PEM string as given, or the contents of the file it names. Only the path reaches messages. */
function pem(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${field} must be PEM text or a file path`);
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (error) {
    throw new RollcallError('INVALID_OPTIONS', `${field}: cannot read ${JSON.stringify(value)} (${(error as { code?: string }).code})`, {
      adapter: 'consul',
    });
  }
}

/** `host`, `host:port`, `[v6]:port`, optionally with `http://` or `https://`. */
export function parseAddress(input: string, tls: boolean): AgentAddress {
  let scheme = tls ? 'https' : 'http';
  let rest = input;
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(input);
  if (match) {
    scheme = (match[1] as string).toLowerCase();
    rest = (match[2] as string).replace(/\/+$/, '');
    if (scheme !== 'http' && scheme !== 'https')
      throw invalid(`address ${JSON.stringify(input)}: only http and https agents are supported`);
  }
  let url: URL;
  try {
    url = new URL(`${scheme}://${rest}`);
  } catch {
    throw invalid(`address ${JSON.stringify(input)} is not host:port`);
  }
  if (url.pathname !== '/' || url.search || url.username || url.password) {
    throw invalid(`address ${JSON.stringify(input)}: give host:port only (no path, query or credentials)`);
  }
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const label = joinHostPort(host, port);
  return { origin: `${scheme}://${label}`, label };
}

function dedupe(agents: AgentAddress[]): AgentAddress[] {
  const seen = new Set<string>();
  return agents.filter((a) => !seen.has(a.origin) && seen.add(a.origin));
}

export function validateCheck(check: ConsulCheck): void {
  if (typeof check !== 'object' || check === null) throw invalid('checks: each check must be an object');
  if ((check.http === undefined) === (check.tcp === undefined)) throw invalid('checks: each check needs exactly one of http or tcp');
  checkDuration(check.interval, 'consul: checks[].interval', { min: 1 });
  if (check.timeout !== undefined) checkDuration(check.timeout, 'consul: checks[].timeout', { min: 1 });
}
