/**
 * `createRegistry`: options, a URL or the environment become one validated, discriminated set of
 * options, and the chosen adapter is imported lazily, so a process on Consul never loads multicast
 * code and switching backends is one option or one environment variable.
 * @module
 */

import { type AdapterFactory, adapterDescriptor, type DescriptorOptions, registerAdapter, registeredKinds } from './adapter-descriptor.js';
import { builtinAdapters } from './adapters/builtin.js';
import { adapterLogger, silentLogger } from './diagnostics.js';
import { RollcallError } from './errors.js';
import type { CommonOptions, CustomAdapterOptions, Logger, Registry, RegistryKind } from './registry.js';

for (const descriptor of builtinAdapters) registerAdapter(descriptor);

/** Options shared by the networked adapters. */
export interface NetworkOptions extends CommonOptions {
  /**
   * Where the backend is: Consul agents (`host:port`) or gossip seeds. A string may list several,
   * comma separated, as `MICRO_REGISTRY_ADDRESS` does.
   */
  address?: string | readonly string[];
}

/** Options for {@link createRegistry}: a discriminated union on `kind`, one member per adapter. */
export type RegistryOptions =
  | DescriptorOptions<(typeof builtinAdapters)[number]>
  | {
      [Kind in keyof CustomAdapterOptions & string]: CustomAdapterOptions[Kind] & {
        /** A kind added with `registerAdapter` (and declared in {@link CustomAdapterOptions}). */
        kind: Kind;
      };
    }[keyof CustomAdapterOptions & string]
  /** No kind: it comes from the environment, else the default (mdns). */
  | (NetworkOptions & {
      /** Left out: `ROLLCALL_REGISTRY`, else `MICRO_REGISTRY`, else `mdns` decides. */
      kind?: undefined;
    });

/** The kinds rollcall ships, available or not (adapters registered later are in {@link availableKinds}). */
export const registryKinds: readonly RegistryKind[] = Object.freeze(builtinAdapters.map((d) => d.kind));

/** Kinds this build can create: every registered adapter with a loader. */
export function availableKinds(): RegistryKind[] {
  return registeredKinds().filter((k) => adapterDescriptor(k)?.load !== undefined) as RegistryKind[];
}

/** The default when neither an option nor the environment names a kind: zero configuration on a LAN. */
export const DEFAULT_KIND: RegistryKind = 'mdns';

/** What {@link resolveConfig} decided: the adapter and the options it would be created with. */
export interface ResolvedConfig {
  /** The adapter `createRegistry` would create. */
  kind: RegistryKind;
  /** Where the kind came from, for the log line and error messages. */
  source: 'options' | 'url' | 'ROLLCALL_REGISTRY' | 'MICRO_REGISTRY' | 'default';
  /**
   * The adapter's options, without `kind`: those given, a URL's (address, query parameters as
   * options) and the address from `ROLLCALL_REGISTRY_ADDRESS` / `MICRO_REGISTRY_ADDRESS`. Not yet
   * validated by the adapter.
   */
  options: Record<string, unknown>;
}

/**
 * Resolves options, a URL or nothing (plus the environment) into a kind and adapter options,
 * without creating anything. Exposed so tools can show what `createRegistry` would do. Throws
 * `INVALID_OPTIONS` for input that is neither options nor a URL or for a malformed URL, and
 * `UNSUPPORTED` for a kind rollcall does not know.
 */
export function resolveConfig(input?: RegistryOptions | string, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  if (typeof input === 'string') return { ...parseRegistryUrl(input), source: 'url' };
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new RollcallError('INVALID_OPTIONS', `createRegistry takes options, a URL or nothing, got ${typeof input}`);
  }
  const options: Record<string, unknown> = { ...input };
  if (options.kind !== undefined) {
    return { kind: checkKind(options.kind, 'options.kind'), source: 'options', options: withEnvAddress(options, env) };
  }
  delete options.kind;
  for (const name of ['ROLLCALL_REGISTRY', 'MICRO_REGISTRY'] as const) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (value.includes('://')) {
      const parsed = parseRegistryUrl(value);
      return { kind: parsed.kind, source: name, options: { ...parsed.options, ...options } };
    }
    return { kind: checkKind(value, name), source: name, options: withEnvAddress(options, env) };
  }
  return { kind: DEFAULT_KIND, source: 'default', options: withEnvAddress(options, env) };
}

/**
 * Parses `consul://host:port?dc=`, `gossip://seed1:7946,seed2:7946`, `mdns://`, `memory://name`.
 * Throws `INVALID_OPTIONS` for text that is not such a URL or names an unknown query parameter
 * (the message lists the known ones; a token is never echoed), `UNSUPPORTED` for an unknown scheme.
 */
export function parseRegistryUrl(url: string): {
  /** The scheme, as a kind. */
  kind: RegistryKind;
  /** `address` (the comma-separated authority, as a list), or `name` for memory, plus the query parameters as the options they stand for (`dc` becomes `datacenter`). */
  options: Record<string, unknown>;
} {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match)
    throw new RollcallError('INVALID_OPTIONS', `${JSON.stringify(redact(url))} is not a registry URL such as consul://127.0.0.1:8500`);
  const kind = checkKind((match[1] ?? '').toLowerCase(), 'URL scheme');
  const descriptor = adapterDescriptor(kind);
  const authority = decodeURIComponent((match[2] ?? '').replace(/\/$/, ''));
  const options: Record<string, unknown> = {};
  if (descriptor?.urlAuthority === 'name') {
    if (authority) options.name = authority;
  } else if (authority) {
    options.address = authority
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
  }
  const accepted = descriptor?.urlParams ?? {};
  for (const [key, value] of new URLSearchParams(match[3] ?? '')) {
    const option = accepted[key];
    if (!option) {
      const known = Object.keys(accepted);
      throw new RollcallError(
        'INVALID_OPTIONS',
        `${kind} URL: unknown parameter ${JSON.stringify(key)}${known.length ? `; known: ${known.join(', ')}` : ''}`,
      );
    }
    options[option] = value;
  }
  return { kind, options };
}

let announcedDefault = false;
let warnedDefault = false;

/** The code of the warning `createRegistry` emits once when it falls back to mdns without being asked. */
export const DEFAULT_MDNS_WARNING = 'ROLLCALL_DEFAULT_MDNS';

/**
 * Says once per process, where a developer sees it, that a registry nobody configured multicasts
 * on the LAN: silence is how a service ends up announcing itself on a network nobody chose.
 */
function warnDefaultKind(registry: Registry): void {
  if (warnedDefault) return;
  warnedDefault = true;
  const interfaces = String(registry.stats().interfaces ?? 'none').replaceAll(',', ', ');
  process.emitWarning(
    `no registry configured (options.kind, ROLLCALL_REGISTRY or MICRO_REGISTRY): using ${registry.kind}, which multicasts ` +
      `on every usable network interface (${interfaces}). Choose it explicitly (kind: '${registry.kind}' or ` +
      `ROLLCALL_REGISTRY=${registry.kind}) to silence this, or pick another kind.`,
    { type: 'RollcallWarning', code: DEFAULT_MDNS_WARNING },
  );
}

/**
 * Creates a registry. The kind comes from `options.kind` (or the URL), else `ROLLCALL_REGISTRY`,
 * else `MICRO_REGISTRY` (so a Go Micro deployment's environment works unchanged), else `mdns`.
 * Falling back to `mdns` emits a process warning once (code `ROLLCALL_DEFAULT_MDNS`) naming the
 * interfaces it multicasts on; naming the kind explicitly silences it.
 * The address likewise from `ROLLCALL_REGISTRY_ADDRESS` / `MICRO_REGISTRY_ADDRESS`.
 *
 * Rejects `INVALID_OPTIONS` for options, a URL or an environment value the adapter cannot use (the
 * message names the option), `UNSUPPORTED` for an unknown kind or one not available in this
 * version (listing those that are), and on mdns `UNSUPPORTED` when no network interface can
 * multicast (saying what to do instead).
 *
 * @example
 * const registry = await createRegistry();                               // mdns: zero config on a LAN
 * const registry = await createRegistry('consul://10.0.0.2:8500?dc=eu');  // or options, or the environment
 */
export async function createRegistry(input?: RegistryOptions | string, env: NodeJS.ProcessEnv = process.env): Promise<Registry> {
  const config = resolveConfig(input, env);
  if (config.source === 'default' && !announcedDefault) {
    announcedDefault = true;
    const logger = (config.options.logger as Logger | undefined) ?? silentLogger;
    adapterLogger(logger, config.kind).info(
      { kind: config.kind },
      `no registry configured (options.kind, ROLLCALL_REGISTRY or MICRO_REGISTRY); using ${config.kind}`,
    );
  }
  const load = adapterDescriptor(config.kind)?.load as (() => Promise<AdapterFactory>) | undefined;
  if (!load) {
    throw new RollcallError(
      'UNSUPPORTED',
      `registry kind ${JSON.stringify(config.kind)} is not available in this version; available: ${availableKinds().join(', ')}`,
    );
  }
  const factory = await load();
  const registry = await factory(config.options);
  if (config.source === 'default' && registry.kind === 'mdns') warnDefaultKind(registry);
  return registry;
}

function checkKind(value: unknown, where: string): RegistryKind {
  if (typeof value === 'string' && adapterDescriptor(value)) return value as RegistryKind;
  throw new RollcallError(
    'UNSUPPORTED',
    `${where}: unknown registry kind ${JSON.stringify(value)}; available: ${availableKinds().join(', ')}`,
  );
}

function withEnvAddress(options: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (options.address !== undefined) return options;
  const value = env.ROLLCALL_REGISTRY_ADDRESS?.trim() || env.MICRO_REGISTRY_ADDRESS?.trim();
  if (!value) return options;
  return {
    ...options,
    address: value
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  };
}

/** URLs may carry a token: never echo it. */
function redact(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1***').replace(/\/\/[^@/]*@/, '//***@');
}
