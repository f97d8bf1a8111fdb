/**
 * Opens the registry a command line names: `--registry` and `--address` over the environment
 * (ROLLCALL_REGISTRY, MICRO_REGISTRY, ..._ADDRESS), through the public `resolveConfig` so the CLI
 * picks exactly what an application with the same environment would.
 *
 * mDNS multicasts on every usable interface unless told otherwise, so before the registry exists
 * (and before any packet) the CLI says on stderr which interfaces it is about to use, unless
 * `--interface` chose them.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { listInterfaces } from '../adapters/mdns/interfaces.js';
import { createRegistry, type Logger, type Registry, type RegistryKind, type RegistryOptions, resolveConfig } from '../index.js';
import type { CommandLine } from './args.js';
import { UsageError } from './exit.js';

export interface Connection {
  registry: Registry;
  kind: RegistryKind;
  /** Where the registry is, for messages: `consul at 127.0.0.1:8500`, `mdns on eth0`. */
  where: string;
}

/** Creates the registry; `note` receives lines for stderr (the mDNS interface notice). */
export async function connect(
  line: CommandLine,
  env: NodeJS.ProcessEnv,
  note: (text: string) => void,
  logger?: Logger,
): Promise<Connection> {
  const flags: Record<string, unknown> = {};
  if (line.address !== undefined)
    flags.address = line.address
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
  const resolved = line.registry?.includes('://')
    ? (() => {
        const fromUrl = resolveConfig(line.registry, env);
        return { ...fromUrl, options: { ...fromUrl.options, ...flags } };
      })()
    : resolveConfig((line.registry === undefined ? flags : { ...flags, kind: line.registry }) as RegistryOptions, env);
  const { kind } = resolved;
  const options: Record<string, unknown> = { ...resolved.options };
  if (line.interfaces) {
    if (kind !== 'mdns') throw new UsageError(`--interface applies to mdns, not ${kind}`);
    options.interfaces = line.interfaces;
  }
  if (kind === 'consul') options.requestTimeout ??= line.timeout;
  if (kind === 'gossip') gossipMember(options);
  if (logger) options.logger = logger;
  let where = kind as string;
  if (kind === 'mdns') {
    const chosen = describeInterfaces(line.interfaces);
    where = `mdns on ${chosen.names.join(', ') || 'no interface'}`;
    if (!line.interfaces) {
      note(
        chosen.names.length > 0
          ? `rollcall: mdns will multicast on ${chosen.described.join(', ')}; choose with --interface <name>`
          : 'rollcall: mdns found no multicast interface that is up',
      );
    }
  } else if (Array.isArray(options.address) && options.address.length > 0) {
    where = `${kind} at ${options.address.join(', ')}`;
  } else if (kind === 'consul') {
    where = `consul at ${env.CONSUL_HTTP_ADDR || '127.0.0.1:8500'}`;
  }
  const registry = await createRegistry({ ...options, kind } as RegistryOptions, env);
  return { registry, kind, where };
}

/**
 * The CLI joins a gossip cluster as a short-lived member of its own: any free port (never the
 * cluster's 7946) and a name no other run has; with only loopback seeds it stays on loopback and
 * uses the `local` preset, so a test cluster on 127.0.0.x is never reached from another interface.
 * `close()` (on every exit) makes it leave.
 */
function gossipMember(options: Record<string, unknown>): void {
  options.port ??= 0;
  options.name ??= `rollcall-cli-${process.pid}-${randomUUID().slice(0, 8)}`;
  const given = options.address;
  const seeds = typeof given === 'string' ? given.split(',') : Array.isArray(given) ? (given as string[]) : [];
  if (seeds.length > 0 && seeds.every((s) => s.startsWith('127.'))) {
    options.bind ??= '127.0.0.1';
    options.preset ??= 'local';
  }
}

/**
 * The interfaces mDNS will use: up, multicast, not loopback, with an address (the adapter's own
 * rule, from the shared interface list), optionally only those named.
 */
export function describeInterfaces(only?: readonly string[]): { names: string[]; described: string[] } {
  const list = listInterfaces(only);
  return {
    names: list.map((i) => i.name),
    described: list.map((i) => `${i.name} (${[...i.v4, ...i.v6].map((a) => a.address).join(', ')})`),
  };
}
