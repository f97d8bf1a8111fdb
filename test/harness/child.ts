/**
 * The child side of the child-process driver: one registry in its own process (and, placed with
 * `ip netns exec`, on its own LAN host), driven over stdio with one JSON message per line.
 *
 * Requests: `{ id, method, params }`; answers: `{ id, result }` or `{ id, error }`.
 * Watch events stream as `{ watch, event }`, then `{ watch, synced: true }` once, and `{ watch, end, error? }`;
 * the watcher's state as `{ watch, state, reason? }`, first when it starts and then on every change.
 * Registration events stream as `{ registration, event: 'lost' | 'restored' | 'renamed', message?, rename? }`.
 */
import { createInterface } from 'node:readline';
import { createRegistry, type Registration, type Registry, type Watcher } from '../../src/index.js';

type Message = { id: number; method: string; params: Record<string, unknown> };

const out = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
let registry: Registry | undefined;
const registrations = new Map<number, Registration>();
const watchers = new Map<number, Watcher>();
let nextHandle = 1;

function serializeError(error: unknown): object {
  const e = error as { name?: string; message?: string; code?: string; retryable?: boolean };
  return { name: e.name ?? 'Error', message: e.message ?? String(error), code: e.code, retryable: e.retryable };
}

async function handle({ method, params }: Message): Promise<unknown> {
  if (method === 'create') {
    registry = await createRegistry(params.options as never);
    return { kind: registry.kind, capabilities: registry.capabilities };
  }
  if (!registry) throw new Error('create first');
  const timeoutSignal = (ms: unknown) => (typeof ms === 'number' ? { timeout: ms } : {});
  switch (method) {
    case 'register': {
      const reg = await registry.register(params.service as never, params.options as never);
      const handleId = nextHandle++;
      registrations.set(handleId, reg);
      reg.on('lost', (error) => out({ registration: handleId, event: 'lost', message: error.message }));
      reg.on('restored', () => out({ registration: handleId, event: 'restored' }));
      reg.on('renamed', (rename) => out({ registration: handleId, event: 'renamed', rename }));
      return { handle: handleId, service: reg.service, ttl: reg.ttl };
    }
    case 'registration.deregister':
      await registrations.get(params.handle as number)?.deregister();
      registrations.delete(params.handle as number);
      return null;
    case 'deregister':
      return registry.deregister(params.service as never);
    case 'getService':
      return registry.getService(params.name as string, timeoutSignal(params.timeout));
    case 'listServices':
      return registry.listServices(timeoutSignal(params.timeout));
    case 'members':
      return registry.members?.();
    case 'stats':
      return registry.stats();
    case 'usage': {
      // After a full collection when the child runs with --expose-gc: what the registry holds, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      const cpu = process.cpuUsage();
      return { cpuMs: (cpu.user + cpu.system) / 1000, heapUsed: process.memoryUsage().heapUsed };
    }
    case 'watch': {
      // The parent names the watch, so events that race ahead of this answer still find their watcher.
      const watchId = params.watch as number;
      const watcher = registry.watch(params.options as never);
      watchers.set(watchId, watcher);
      // After the snapshot's events: a view that is complete at once resolves synced before the
      // iteration below has written them, and the parent checks its state as soon as it hears synced.
      void watcher.synced.then(() => setImmediate(() => out({ watch: watchId, synced: true })));
      out({ watch: watchId, state: watcher.state });
      watcher.on('state', (state, reason) => out({ watch: watchId, state, reason: reason && serializeError(reason) }));
      void (async () => {
        try {
          for await (const event of watcher) out({ watch: watchId, event });
          out({ watch: watchId, end: true });
        } catch (error) {
          out({ watch: watchId, end: true, error: serializeError(error) });
        } finally {
          watchers.delete(watchId);
        }
      })();
      return { watch: watchId };
    }
    case 'unwatch':
      watchers.get(params.watch as number)?.stop();
      return null;
    case 'keyring': {
      // The gossip adapter's key rotation (install, use, remove, list) on a running member.
      const ring = (registry as { keyring?: Record<string, (key?: string) => unknown> }).keyring;
      if (!ring) throw new Error(`${registry.kind} has no keyring`);
      return ring[params.op as string]?.(params.key as string | undefined) ?? null;
    }
    case 'close':
      await registry.close();
      return null;
    default:
      throw new Error(`unknown method ${method}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let message: Message;
  try {
    message = JSON.parse(line) as Message;
  } catch {
    return;
  }
  handle(message).then(
    (result) => out({ id: message.id, result: result ?? null }),
    (error: unknown) => out({ id: message.id, error: serializeError(error) }),
  );
});
// The parent went away: behave like a process whose supervisor died, without a goodbye.
lines.on('close', () => process.exit(0));
out({ ready: true, pid: process.pid });
