/**
 * The parent side of the child-process driver: a {@link Registry} whose implementation runs in
 * another process, optionally inside a network namespace (a LAN host), so the conformance suite
 * and real-peer tests can put registries on separate hosts and crash them for real (SIGKILL).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'eventemitter3';
import {
  type Capabilities,
  type GetServiceOptions,
  type ListServicesOptions,
  type Member,
  type NodeRename,
  type RegisterOptions,
  type Registration,
  type RegistrationEvents,
  type Registry,
  type RegistryKind,
  type RegistryOptions,
  type RegistryStats,
  RollcallError,
  type Service,
  type ServiceInput,
  type WatchEvent,
  type Watcher,
  type WatcherEvents,
  type WatchOptions,
  type WatchState,
} from '../../src/index.js';

const childEntry = fileURLToPath(new URL('./child.ts', import.meta.url));
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface SpawnOptions {
  /** What the child passes to `createRegistry`. */
  options: RegistryOptions | string;
  /** Run the child inside this network namespace (`ip netns exec`). */
  netns?: string;
  env?: Record<string, string>;
  /** Milliseconds to wait for the child to start. @default 20000 */
  startTimeout?: number;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** Starts a registry in a child process and resolves once it is created. */
export async function spawnRegistry(options: SpawnOptions): Promise<RemoteRegistry> {
  const node = [process.execPath, '--import', 'tsx', childEntry];
  const [cmd, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...node] : node;
  const child = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  live.add(child);
  const remote = new RemoteRegistry(child);
  await remote.start(options.options, options.startTimeout ?? 20_000);
  return remote;
}

export class RemoteRegistry implements Registry {
  kind: RegistryKind = 'memory';
  capabilities: Capabilities = { members: false };
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #watchers = new Map<number, RemoteWatcher>();
  readonly #registrations = new Map<number, RemoteRegistration>();
  #nextId = 1;
  #stderr = '';
  #exited: Promise<void>;
  #ready!: () => void;
  #closed = false;

  constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      live.delete(child);
      const error = new RollcallError('UNAVAILABLE', `child registry exited (${signal ?? code}): ${this.#stderr.slice(-2000)}`);
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
      for (const w of this.#watchers.values()) w.end();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-8000);
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => this.#onLine(line));
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** What the child wrote to stderr lately (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  async start(options: RegistryOptions | string, timeout: number): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      this.#ready = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`child registry did not start within ${timeout} ms: ${this.#stderr}`)), timeout);
    });
    const exited = this.#exited.then(() => {
      throw new Error(`child registry exited during start: ${this.#stderr}`);
    });
    try {
      await Promise.race([ready, timedOut, exited]);
      const created = (await Promise.race([this.#call('create', { options: stripLogger(options) }), timedOut])) as {
        kind: RegistryKind;
        capabilities: Capabilities;
      };
      this.kind = created.kind;
      this.capabilities = created.capabilities;
    } catch (error) {
      this.#child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.ready) {
      this.#ready();
      return;
    }
    if (typeof message.id === 'number') {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) pending?.reject(reviveError(message.error as SerializedError));
      else pending?.resolve(message.result);
      return;
    }
    if (typeof message.watch === 'number') {
      const watcher = this.#watchers.get(message.watch);
      if (!watcher) return;
      if (message.synced) watcher.markSynced();
      else if (typeof message.state === 'string') {
        watcher.setState(
          message.state as WatchState,
          message.reason ? (reviveError(message.reason as SerializedError) as RollcallError) : undefined,
        );
      } else if (message.end) watcher.end(message.error ? reviveError(message.error as SerializedError) : undefined);
      else watcher.push(message.event as WatchEvent);
      return;
    }
    if (typeof message.registration === 'number') {
      // An event may arrive in the same chunk as the register() answer: wait until the caller's
      // continuation has made the handle and attached its listeners, as an in-process registry allows.
      const id = message.registration;
      setImmediate(() => {
        const reg = this.#registrations.get(id);
        if (message.event === 'lost') reg?.emit('lost', new RollcallError('UNAVAILABLE', String(message.message)));
        if (message.event === 'restored') reg?.emit('restored');
        if (message.event === 'renamed') reg?.emit('renamed', message.rename as NodeRename);
      });
    }
  }

  #call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    // As an in-process registry: calls after close() reject CLOSED (a killed child answers UNAVAILABLE).
    if (this.#closed && method !== 'close') return Promise.reject(new RollcallError('CLOSED', 'registry is closed'));
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      return Promise.reject(new RollcallError('UNAVAILABLE', `child registry has exited: ${this.#stderr.slice(-2000)}`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin?.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  async register(service: ServiceInput, options: RegisterOptions = {}): Promise<Registration> {
    const { signal: _signal, ...rest } = options;
    const answer = (await this.#call('register', { service, options: rest })) as { handle: number; service: Service; ttl: number };
    const reg = new RemoteRegistration(answer.service, answer.ttl, () => this.#call('registration.deregister', { handle: answer.handle }));
    this.#registrations.set(answer.handle, reg);
    return reg;
  }

  async deregister(service: ServiceInput): Promise<void> {
    await this.#call('deregister', { service });
  }

  async getService(name: string, options: GetServiceOptions = {}): Promise<readonly Service[]> {
    if (options.signal?.aborted) throw new DOMException('The operation was aborted', 'AbortError');
    return deepFreeze((await this.#call('getService', { name, timeout: options.timeout })) as Service[]);
  }

  async listServices(options: ListServicesOptions = {}): Promise<Service[]> {
    return deepFreeze((await this.#call('listServices', { timeout: options.timeout })) as Service[]);
  }

  async members(): Promise<Member[]> {
    return (await this.#call('members')) as Member[];
  }

  watch(options: WatchOptions = {}): Watcher {
    if (this.#closed) throw new RollcallError('CLOSED', 'registry is closed');
    const { signal, ...rest } = options;
    const watcher = new RemoteWatcher(signal);
    const id = this.#nextId++;
    this.#watchers.set(id, watcher);
    watcher.onStop(() => {
      this.#watchers.delete(id);
      void this.#call('unwatch', { watch: id }).catch(() => {});
    });
    void this.#call('watch', { watch: id, options: rest }).catch((error: Error) => watcher.end(error));
    return watcher;
  }

  stats(): RegistryStats {
    throw new Error('a remote registry answers stats asynchronously: use remoteStats()');
  }

  remoteStats(): Promise<RegistryStats> {
    return this.#call('stats') as Promise<RegistryStats>;
  }

  /** The child's CPU time so far (ms) and its heap in use (after a full collection when it runs with --expose-gc). */
  usage(): Promise<{ cpuMs: number; heapUsed: number }> {
    return this.#call('usage') as Promise<{ cpuMs: number; heapUsed: number }>;
  }

  /** The gossip keyring of the child's registry: `install`, `use` or `remove` a base64 key, or `list`. */
  keyring(op: 'install' | 'use' | 'remove' | 'list', key?: string): Promise<unknown> {
    return this.#call('keyring', { op, key });
  }

  /** Closes the registry in the child (goodbyes), then lets the child exit. */
  async close(): Promise<void> {
    if (this.#closed || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#closed = true;
    try {
      await this.#call('close');
    } catch (error) {
      if (!(error instanceof RollcallError && error.code === 'UNAVAILABLE')) throw error;
    } finally {
      this.#child.stdin?.end();
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A real crash: SIGKILL, no goodbye. Later calls reject UNAVAILABLE, as for a dead peer. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}

class RemoteRegistration extends EventEmitter<RegistrationEvents> implements Registration {
  #removal: Promise<void> | undefined;
  constructor(
    readonly service: Service,
    readonly ttl: number,
    private readonly remove: () => Promise<unknown>,
  ) {
    super();
  }
  deregister(): Promise<void> {
    this.#removal ??= this.remove().then(() => {});
    return this.#removal;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.deregister();
  }
}

type Result = IteratorResult<WatchEvent, undefined>;

/** Events are queued without bound: a test consumer is never the slow one being tested here. */
class RemoteWatcher extends EventEmitter<WatcherEvents> implements Watcher {
  readonly #queue: WatchEvent[] = [];
  #waiter: { resolve: (r: Result) => void; reject: (e: Error) => void } | undefined;
  #done = false;
  #error: Error | undefined;
  #onStop: (() => void) | undefined;
  #stopRequested = false;
  #resolveSynced!: () => void;
  readonly synced = new Promise<void>((resolve) => {
    this.#resolveSynced = resolve;
  });
  state: WatchState = 'syncing';
  blindReason: RollcallError | undefined;

  constructor(signal: AbortSignal | undefined) {
    super();
    if (signal?.aborted) this.stop();
    signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  onStop(callback: () => void): void {
    this.#onStop = callback;
    if (this.#stopRequested) callback();
  }

  /** The child's watcher changed state (or told its first one). */
  setState(state: WatchState, reason: RollcallError | undefined): void {
    if (this.#done) return;
    this.blindReason = state === 'blind' ? reason : undefined;
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state, this.blindReason);
  }

  markSynced(): void {
    this.#resolveSynced();
  }

  push(event: WatchEvent): void {
    if (this.#done) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ done: false, value: event });
    } else this.#queue.push(event);
  }

  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) {
      if (error) w.reject(error);
      else w.resolve({ done: true, value: undefined });
    }
  }

  next(): Promise<Result> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ done: false, value: event });
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<Result> {
    this.stop();
    return Promise.resolve({ done: true, value: undefined });
  }

  stop(): void {
    if (this.#stopRequested) return;
    this.#stopRequested = true;
    this.#queue.length = 0;
    this.end();
    this.#onStop?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/** What crossed the process boundary is frozen, as an in-process registry's shared snapshots are. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

type SerializedError = { name: string; message: string; code?: string; retryable?: boolean };

function reviveError(e: SerializedError): Error {
  if (e.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  if (e.code) {
    // The child's message already carries the "[rollcall] [adapter]" prefix.
    const error = new RollcallError(e.code as never, e.message.replace(/^\[rollcall\] /, ''), { retryable: e.retryable });
    return error;
  }
  return new Error(e.message);
}

/** A logger cannot cross a process boundary. */
function stripLogger(options: RegistryOptions | string): RegistryOptions | string {
  if (typeof options === 'string') return options;
  const { logger: _logger, ...rest } = options as RegistryOptions & { logger?: unknown };
  return rest as RegistryOptions;
}
