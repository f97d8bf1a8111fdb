/**
 * MdnsOptions validated into the settings the adapter runs with, in one place, so a typo fails
 * `createRegistry` with a message naming the option rather than misbehaving on the network.
 * @module
 */
import { RollcallError } from '../../errors.js';
import type { Logger } from '../../registry.js';
import { checkDuration } from '../../time.js';
import type { Codec, MdnsProfile } from './codec.js';
import { DnsSdCodec } from './dns-sd.js';
import { GoMicroCodec } from './go-micro.js';
import type { MdnsOptions } from './index.js';
import { nameProblem } from './names.js';

export interface ResolvedMdnsOptions {
  profile: MdnsProfile;
  domain: string;
  interfaces: readonly string[] | undefined;
  ipv6: boolean;
  lookupTimeout: number;
  interfacePollInterval: number;
  maxQueryInterval: number;
  maxCacheRecords: number;
  ttl?: number;
  logger?: Logger;
}

export const DEFAULTS = {
  lookupTimeout: 250,
  interfacePollInterval: 2000,
  /** RFC 6762 §5.2 caps the query interval at 60 minutes. */
  maxQueryInterval: { 'dns-sd': 3_600_000, 'go-micro': 60_000 },
  maxCacheRecords: 10_000,
} as const;

function invalid(message: string): RollcallError {
  return new RollcallError('INVALID_OPTIONS', message, { adapter: 'mdns' });
}

export function resolveOptions(options: MdnsOptions): { settings: ResolvedMdnsOptions; codec: Codec } {
  const profile = options.profile ?? 'dns-sd';
  if (profile !== 'dns-sd' && profile !== 'go-micro') {
    throw invalid(`profile must be 'dns-sd' or 'go-micro', got ${JSON.stringify(profile)}`);
  }
  const given: unknown = options.domain ?? (profile === 'dns-sd' ? 'local' : 'micro');
  // Checked before any string method runs: a number here must be INVALID_OPTIONS, not a TypeError.
  if (typeof given !== 'string') throw invalid(`domain must be a string, got ${JSON.stringify(given) ?? typeof given}`);
  const domain = given.replace(/\.$/, '');
  const problem = nameProblem(domain);
  if (problem) throw invalid(`domain ${JSON.stringify(options.domain)} ${problem}`);
  const interfaces = options.interfaces;
  if (interfaces !== undefined && (!Array.isArray(interfaces) || interfaces.some((i) => typeof i !== 'string' || i.length === 0))) {
    throw invalid('interfaces must be a list of interface names, such as ["eth0"]');
  }
  if (options.ipv6 !== undefined && typeof options.ipv6 !== 'boolean') throw invalid('ipv6 must be a boolean');
  const duration = (value: number | undefined, name: string, fallback: number, min = 1) =>
    value === undefined ? fallback : checkDuration(value, `mdns: ${name}`, { min });
  const maxCacheRecords = options.maxCacheRecords ?? DEFAULTS.maxCacheRecords;
  if (!Number.isInteger(maxCacheRecords) || maxCacheRecords < 100) throw invalid('maxCacheRecords must be an integer >= 100');
  const settings: ResolvedMdnsOptions = {
    profile,
    domain,
    interfaces: interfaces ? [...interfaces] : undefined,
    ipv6: options.ipv6 ?? true,
    lookupTimeout: duration(options.lookupTimeout, 'lookupTimeout', DEFAULTS.lookupTimeout),
    interfacePollInterval: duration(options.interfacePollInterval, 'interfacePollInterval', DEFAULTS.interfacePollInterval, 100),
    maxQueryInterval: duration(options.maxQueryInterval, 'maxQueryInterval', DEFAULTS.maxQueryInterval[profile], 1000),
    maxCacheRecords,
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
  const codec = profile === 'dns-sd' ? new DnsSdCodec(domain) : new GoMicroCodec(domain);
  return { settings, codec };
}
