/**
 * Helpers the conformance suite and adapter tests share: waiting on watchers with deadlines and
 * replaying events into a state that can be compared with what the registry says.
 */
import type { Registry, Service, ServiceInput, WatchEvent, Watcher } from '../../src/index.js';

/** A consumer of a watcher that records every event and keeps the replayed state. */
export class Recorder {
  readonly events: WatchEvent[] = [];
  /** key `name@version` -> service, as replayed from events. */
  readonly state = new Map<string, Service>();
  #listeners = new Set<() => void>();
  readonly done: Promise<void>;
  error: unknown;

  constructor(readonly watcher: Watcher) {
    this.done = (async () => {
      try {
        for await (const event of watcher) {
          this.events.push(event);
          applyEvent(this.state, event);
          for (const l of this.#listeners) l();
        }
      } catch (error) {
        this.error = error;
      } finally {
        for (const l of this.#listeners) l();
      }
    })();
  }

  /** Resolves when `predicate` holds for the recorder, or rejects after `timeout` ms with `what`. */
  until(predicate: (r: Recorder) => boolean, timeout: number, what: string): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; events: ${summarize(this.events)}`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
    });
  }

  /** Node ids currently live for `name` (any version), according to the replayed events. */
  nodeIds(name: string): string[] {
    return [...this.state.values()]
      .filter((s) => s.name === name)
      .flatMap((s) => s.nodes.map((n) => n.id))
      .sort();
  }

  stop(): Promise<void> {
    this.watcher.stop();
    return this.done;
  }
}

export function applyEvent(state: Map<string, Service>, event: WatchEvent): void {
  if (event.type === 'resync') {
    state.clear();
    for (const s of event.services) state.set(key(s), s);
    return;
  }
  if (event.type === 'delete' || event.service.nodes.length === 0) state.delete(key(event.service));
  else state.set(key(event.service), event.service);
}

export function key(service: Pick<Service, 'name' | 'version'>): string {
  return `${service.name}@${service.version}`;
}

function summarize(events: WatchEvent[]): string {
  const last = events
    .slice(-12)
    .map((e) =>
      e.type === 'resync' ? `resync(${e.services.length})` : `${e.type} ${key(e.service)} [${e.service.nodes.map((n) => n.id).join(',')}]`,
    );
  return `${events.length} total; last: ${last.join('; ') || 'none'}`;
}

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns true, or rejects after `timeout` ms. */
export async function eventually(check: () => boolean | Promise<boolean>, timeout: number, what: string, every = 25): Promise<void> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`, { cause: lastError });
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The (name, version) -> sorted node ids that a registry reports, via getService over `names`. */
export async function registryState(registry: Registry, names: Iterable<string>): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of names) {
    try {
      for (const s of await registry.getService(name)) out.set(key(s), s.nodes.map((n) => n.id).sort());
    } catch (error) {
      if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
    }
  }
  return out;
}

export function recordedState(recorder: Recorder): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, s] of recorder.state) out.set(k, s.nodes.map((n) => n.id).sort());
  return out;
}

let counter = 0;
/** A service name unique to this process and run, so suites never see each other's services. */
export function uniqueName(prefix = 'svc'): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

export function service(
  name: string,
  nodes: Array<{ id: string; port: number; metadata?: Record<string, string> }>,
  version = '1.0.0',
  host = '127.0.0.1',
): ServiceInput {
  return {
    name,
    version,
    metadata: { suite: 'conformance' },
    endpoints: [
      {
        name: 'Greeter.Hello',
        request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
        response: null,
        metadata: {},
      },
    ],
    nodes: nodes.map((n) => ({ id: n.id, address: `${host}:${n.port}`, metadata: n.metadata ?? { protocol: 'http' } })),
  };
}
