/**
 * The five commands, each on an open registry and the public API only. A command resolves with
 * its exit status; expected failures throw {@link CommandFailure} or a RollcallError, which the
 * caller turns into one line and a status.
 * @module
 */
import type { Service, WatchEvent } from '../index.js';
import type { CommandLine } from './args.js';
import type { Connection } from './connect.js';
import { CommandFailure, ExitCode, type ExitStatus, oneLine } from './exit.js';
import { eventLine, membersTable, nodesTable, servicesTable } from './format.js';

export interface Io {
  /** Writes one line (or block) to stdout. */
  out(text: string): void;
  /** Writes one line to stderr. */
  note(text: string): void;
  /** Fires on Ctrl+C (SIGINT) or SIGTERM. */
  interrupted: AbortSignal;
  now(): Date;
}

type Run = (line: CommandLine, conn: Connection, io: Io) => Promise<ExitStatus>;

const json = (value: unknown) => JSON.stringify(value);

const services: Run = async (line, { registry, where }, io) => {
  const list = await registry.listServices({ timeout: line.timeout, signal: io.interrupted });
  if (line.json) io.out(json(list.map(({ name, version, metadata }) => ({ name, version, metadata }))));
  else if (list.length > 0) io.out(servicesTable(list));
  if (list.length === 0) io.note(`rollcall: no services registered on ${where}`);
  return list.length === 0 ? ExitCode.NOT_FOUND : ExitCode.OK;
};

const get: Run = async (line, { registry }, io) => {
  const found = await registry.getService(line.args[0] as string, { timeout: line.timeout, signal: io.interrupted });
  io.out(line.json ? json(found) : nodesTable(found));
  return ExitCode.OK;
};

const members: Run = async (line, { registry, kind }, io) => {
  if (!registry.capabilities.members || !registry.members) {
    throw new CommandFailure(`the ${kind} registry has no cluster members (consul and gossip have)`, ExitCode.USAGE, 'UNSUPPORTED');
  }
  const list = await withTimeout(registry.members(), line.timeout, `members: no answer within ${line.timeout} ms`);
  io.out(line.json ? json(list) : membersTable(list));
  return list.length === 0 ? ExitCode.NOT_FOUND : ExitCode.OK;
};

const watch: Run = async (line, { registry, where }, io) => {
  const name = line.args[0];
  const watcher = registry.watch({ ...(name === undefined ? {} : { service: name }), signal: io.interrupted });
  const print = (event: WatchEvent) => io.out(line.json ? json({ at: io.now().toISOString(), ...event }) : eventLine(event, io.now()));
  let synced = false;
  watcher.synced.then(
    () => {
      synced = true;
      if (line.json) io.out(json({ at: io.now().toISOString(), type: 'synced' }));
      else io.note(`rollcall: watching ${name ?? 'every service'} on ${where}; the current state is above, changes follow (Ctrl+C ends)`);
    },
    () => {}, // the iteration below reports the error
  );
  watcher.on('state', (state, reason) => {
    if (line.json) io.out(json({ at: io.now().toISOString(), type: 'state', state, ...(reason ? { reason: oneLine(reason) } : {}) }));
    else if (synced)
      io.note(state === 'blind' ? `rollcall: the watch is blind: ${oneLine(reason)}` : `rollcall: the watch is ${state} again`);
  });
  // The initial state must arrive within the timeout: a registry that never answers is an error, not silence.
  const deadline = AbortSignal.timeout(line.timeout);
  const stopUnsynced = () => !synced && watcher.stop();
  deadline.addEventListener('abort', stopUnsynced, { once: true });
  try {
    for await (const event of watcher) print(event);
  } finally {
    deadline.removeEventListener('abort', stopUnsynced);
  }
  if (!synced && !io.interrupted.aborted) {
    if (watcher.blindReason) throw watcher.blindReason;
    throw new CommandFailure(`${where} did not answer the watch within ${line.timeout} ms`, ExitCode.UNAVAILABLE, 'TIMEOUT');
  }
  return ExitCode.OK;
};

const register: Run = async (line, { registry, where }, io) => {
  const [name, address] = line.args as [string, string];
  const { id, version, metadata, ttl } = line.register;
  const attempt = AbortSignal.any([io.interrupted, AbortSignal.timeout(line.timeout)]);
  const registration = await registry.register(
    { name, ...(version === undefined ? {} : { version }), nodes: [{ ...(id === undefined ? {} : { id }), address, metadata }] },
    { ...(ttl === undefined ? {} : { ttl }), signal: attempt },
  );
  const node = registration.service.nodes[0];
  const describe = (s: Service) => `${s.name}${s.version ? ` ${s.version}` : ''} node ${node?.id} at ${node?.address}`;
  registration.on('lost', (error) =>
    io.note(`rollcall: ${describe(registration.service)} was lost (${oneLine(error)}); registering again`),
  );
  registration.on('restored', () => io.note(`rollcall: ${describe(registration.service)} is registered again`));
  if (line.json) io.out(json({ at: io.now().toISOString(), type: 'registered', ttl: registration.ttl, service: registration.service }));
  else io.out(`registered ${describe(registration.service)} on ${where} (ttl ${registration.ttl / 1000} s); Ctrl+C deregisters`);
  if (!io.interrupted.aborted) await new Promise((resolve) => io.interrupted.addEventListener('abort', resolve, { once: true }));
  await registration.deregister();
  if (line.json) io.out(json({ at: io.now().toISOString(), type: 'deregistered', service: registration.service }));
  else io.out(`goodbye: deregistered ${describe(registration.service)}`);
  return ExitCode.OK;
};

export const commands: Record<CommandLine['command'] & string, Run> = { services, get, watch, members, register };

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  let fail: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    fail = () => reject(new CommandFailure(message, ExitCode.UNAVAILABLE, 'TIMEOUT'));
    deadline.addEventListener('abort', fail, { once: true });
  });
  return Promise.race([promise, timeout]).finally(() => fail && deadline.removeEventListener('abort', fail));
}
