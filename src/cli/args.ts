/**
 * The command line: one `parseArgs` table for every command, then a check that each flag given
 * belongs to the command, so a misplaced `--ttl` is a usage error instead of being ignored.
 * @module
 */
import { parseArgs } from 'node:util';
import { UsageError } from './exit.js';

export const COMMANDS = ['services', 'get', 'watch', 'members', 'register'] as const;
export type Command = (typeof COMMANDS)[number];

const options = {
  registry: { type: 'string', short: 'r' },
  address: { type: 'string', short: 'a' },
  interface: { type: 'string', short: 'i', multiple: true },
  json: { type: 'boolean' },
  timeout: { type: 'string', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  id: { type: 'string' },
  'service-version': { type: 'string' },
  meta: { type: 'string', short: 'm', multiple: true },
  ttl: { type: 'string' },
} as const;

const commonFlags = ['registry', 'address', 'interface', 'json', 'verbose', 'help'];
const commandFlags: Record<Command, string[]> = {
  services: ['timeout'],
  get: ['timeout'],
  watch: ['timeout'],
  members: ['timeout'],
  register: ['id', 'service-version', 'meta', 'ttl', 'timeout'],
};
const positionals: Record<Command, { min: number; max: number; names: string }> = {
  services: { min: 0, max: 0, names: '' },
  get: { min: 1, max: 1, names: '<name>' },
  watch: { min: 0, max: 1, names: '[name]' },
  members: { min: 0, max: 0, names: '' },
  register: { min: 2, max: 2, names: '<name> <host:port>' },
};

export interface CommandLine {
  command: Command | undefined;
  args: string[];
  help: boolean;
  json: boolean;
  verbose: boolean;
  registry: string | undefined;
  address: string | undefined;
  interfaces: string[] | undefined;
  /** Milliseconds a read may take. */
  timeout: number;
  register: { id?: string; version?: string; metadata: Record<string, string>; ttl?: number };
}

/** How long a read may take when `--timeout` is not given, in milliseconds. */
export const DEFAULT_TIMEOUT = 5_000;

/** Parses argv (without node and the script); throws {@link UsageError} for anything wrong. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const { values } = parsed;
  const [name, ...args] = parsed.positionals;
  const help = values.help === true;
  if (name !== undefined && !(COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.join(', ')}`);
  }
  const command = name as Command | undefined;
  if (command && !help) {
    const allowed = new Set([...commonFlags, ...commandFlags[command]]);
    for (const token of parsed.tokens) {
      if (token.kind === 'option' && !allowed.has(token.name)) throw new UsageError(`${command} does not take --${token.name}`);
    }
    const want = positionals[command];
    if (args.length < want.min || args.length > want.max) {
      throw new UsageError(`usage: rollcall ${command} ${want.names}`.trim());
    }
  }
  return {
    command,
    args,
    help,
    json: values.json === true,
    verbose: values.verbose === true,
    registry: values.registry,
    address: values.address,
    interfaces: values.interface?.flatMap((i) => i.split(',')).filter(Boolean),
    timeout: values.timeout === undefined ? DEFAULT_TIMEOUT : duration(values.timeout, '--timeout'),
    register: {
      ...(values.id === undefined ? {} : { id: values.id }),
      ...(values['service-version'] === undefined ? {} : { version: values['service-version'] }),
      ...(values.ttl === undefined ? {} : { ttl: duration(values.ttl, '--ttl') }),
      metadata: pairs(values.meta ?? []),
    },
  };
}

/** `1500`, `1500ms`, `2s` or `1m` as milliseconds. */
function duration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag} takes a duration such as 1500, 1500ms, 2s or 1m, got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * (match[2] === 's' ? 1_000 : match[2] === 'm' ? 60_000 : 1);
  if (value <= 0 || !Number.isFinite(value)) throw new UsageError(`${flag} must be positive, got ${JSON.stringify(text)}`);
  return Math.round(value);
}

function pairs(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`--meta takes key=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

export const USAGE = `rollcall: look at and use a service registry (memory, mdns, gossip, consul)

usage: rollcall <command> [options]

commands:
  services                      list registered services (name, version)
  get <name>                    the live nodes of one service
  watch [name]                  print changes as they happen, until Ctrl+C
  members                       the cluster members (consul, gossip)
  register <name> <host:port>   register a node and keep it alive until Ctrl+C, then say goodbye

options:
  -r, --registry <kind|url>     memory, mdns, gossip, consul, or a URL such as consul://10.0.0.2:8500
                                (default: ROLLCALL_REGISTRY, else MICRO_REGISTRY, else mdns)
  -a, --address <host:port,...> where the registry is (default: ROLLCALL_REGISTRY_ADDRESS,
                                else MICRO_REGISTRY_ADDRESS; consul also reads CONSUL_HTTP_ADDR)
  -i, --interface <name>        mdns: multicast only on this interface (repeat or comma separate)
      --json                    machine-readable output (one JSON value; watch: one per line)
  -t, --timeout <duration>      how long a read may take (default 5s)
  -v, --verbose                 errors with their stack and cause
  -h, --help                    this text

register options:
      --id <id>                 node id (default <name>-<uuid>)
      --service-version <v>     service version (default "")
  -m, --meta <key=value>        node metadata (repeat for more)
      --ttl <duration>          how long the node outlives a crash of this command (default 30s)

exit status: 0 ok, 1 not found or nothing to show, 2 usage, 3 registry unavailable or timed out,
4 internal error.`;
