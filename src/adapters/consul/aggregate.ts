/**
 * Aggregate mode: any number of watched services on two blocking queries. `/v1/catalog/services`
 * (followed by the watch manager) tells which names and tag sets changed; `/v1/health/state/any`
 * tells which checks changed. Only the services whose entry changed are read again, a few at a
 * time, on the connections the per-service queries would otherwise hold.
 *
 * What the two queries cannot attribute: a catalog write that changes neither a name, a tag set
 * nor a check (an address change of an instance with the same tags, an instance without checks).
 * Consul stamps one write with one raft index on every table it touches, and a blocking answer
 * covers every write up to its index; so a catalog change at index N is explained when the first
 * health answer at or past N changed something. One that stays unexplained (no health answer
 * reaches N within {@link EXPLAIN_WINDOW_MS}, or the one that does changed nothing) re-reads every
 * followed service, at most once per {@link SWEEP_INTERVAL_MS}. Go Micro and rollcall give every
 * process a new node id and a TTL check, so sweeps are rare.
 * @module
 */

import { lifetimeController } from '../../internal/abort.js';
import { systemClock, type Timer } from '../../internal/clock.js';
import { joinKey } from '../../internal/keys.js';
import { BlockingQuery, backoffDelay } from './blocking.js';
import type { CheckState } from './decode.js';
import type { ConsulReader } from './queries.js';

export interface AggregateHost {
  reader: ConsulReader;
  /** Names followed now. */
  followed(): Iterable<string>;
  /** Consul nodes a followed service had instances on at its last read; undefined when not followed. */
  consulNodesOf(name: string): ReadonlySet<string> | undefined;
  /** Reads one service and puts the answer in the view. */
  reread(name: string, signal: AbortSignal): Promise<void>;
  onReadError(name: string, error: unknown): void;
  /** The health query answered. */
  onAnswer(): void;
  onError(error: unknown, attempt: number): void;
}

/** How long a catalog change may wait for the health answer that explains it. */
const EXPLAIN_WINDOW_MS = 1_000;
const SWEEP_INTERVAL_MS = 5_000;
/** Health answers remembered to explain catalog changes. */
const RECENT_ANSWERS = 64;

export class AggregateFollower {
  readonly #host: AggregateHost;
  readonly #controller = lifetimeController();
  readonly #reads: ReadQueue;
  #health: BlockingQuery<CheckState[]> | undefined;
  #catalog: Map<string, readonly string[]> | undefined;
  #catalogIndex = 0;
  /** Service name -> signature of its checks; node -> signature of its node-level checks. */
  #services: Map<string, string> | undefined;
  #nodes = new Map<string, string>();
  /** Recent health answers: their index and whether they changed anything. */
  readonly #answers: Array<{ index: number; changed: boolean }> = [];
  /** Unexplained catalog indexes and when they came. */
  readonly #unexplained = new Map<number, number>();
  #explainTimer: Timer | undefined;
  #primed = false;
  #lastSweep = Number.NEGATIVE_INFINITY;
  #sweepTimer: Timer | undefined;

  constructor(host: AggregateHost) {
    this.#host = host;
    // Two connections hold the aggregate queries; the rest of the watch lane reads.
    const concurrency = Math.max(1, host.reader.settings.watchConnections - 2);
    this.#reads = new ReadQueue(concurrency, host, this.#controller.signal);
  }

  /** Both aggregate queries answer: changes are being noticed. */
  get healthy(): boolean {
    return this.#primed && (this.#health?.failures ?? 1) === 0;
  }

  start(): void {
    const { reader } = this.#host;
    const wait = reader.settings.wait;
    this.#health = new BlockingQuery<CheckState[]>({
      label: 'health state',
      wait,
      fetch: async (index, signal) => {
        const answer = await reader.checks({ index, wait, signal, lane: 'watch' });
        return { data: answer.data, index: answer.index };
      },
      onData: (checks, index) => {
        this.#host.onAnswer();
        return this.#onChecks(checks, index);
      },
      onError: (error, attempt) => this.#host.onError(error, attempt),
    }).start();
  }

  stop(): void {
    this.#controller.abort();
    this.#health?.stop();
    this.#sweepTimer?.cancel();
    this.#explainTimer?.cancel();
  }

  /** A newly followed name: read it once the baselines are there. */
  follow(name: string): void {
    if (this.#primed) this.#reads.add(name);
  }

  onCatalog(catalog: Map<string, readonly string[]>, index: number): void {
    const before = this.#catalog;
    const moved = index !== this.#catalogIndex;
    this.#catalog = catalog;
    this.#catalogIndex = index;
    if (!before) {
      this.#prime();
      return;
    }
    if (!this.#primed || !moved) return;
    let explained = false;
    const followed = new Set(this.#host.followed());
    for (const name of new Set([...before.keys(), ...catalog.keys()])) {
      if (sameTags(before.get(name), catalog.get(name))) continue;
      explained = true;
      if (followed.has(name)) this.#reads.add(name);
    }
    if (!explained) {
      this.#unexplained.set(index, systemClock.now());
      this.#explain();
    }
  }

  /** Diffs the checks against the last answer; false when nothing changed. */
  #onChecks(checks: CheckState[], index: number): boolean {
    const services = new Map<string, string[]>();
    const nodes = new Map<string, string[]>();
    const servicesOnNode = new Map<string, Set<string>>();
    for (const c of checks) {
      const line = joinKey(c.node, c.serviceId, c.checkId, c.status);
      if (c.serviceName === '') push(nodes, c.node, line);
      else {
        push(services, c.serviceName, line);
        let set = servicesOnNode.get(c.node);
        if (!set) servicesOnNode.set(c.node, (set = new Set()));
        set.add(c.serviceName);
      }
    }
    const signatures = new Map([...services].map(([k, v]) => [k, v.sort().join('\n')]));
    const nodeSignatures = new Map([...nodes].map(([k, v]) => [k, v.sort().join('\n')]));
    const before = this.#services;
    const nodesBefore = this.#nodes;
    this.#services = signatures;
    this.#nodes = nodeSignatures;
    if (!before) {
      this.#prime();
      return true;
    }
    if (!this.#primed) return true;

    const changed = new Set<string>();
    for (const name of new Set([...before.keys(), ...signatures.keys()])) if (before.get(name) !== signatures.get(name)) changed.add(name);
    const changedNodes = [...new Set([...nodesBefore.keys(), ...nodeSignatures.keys()])].filter(
      (n) => nodesBefore.get(n) !== nodeSignatures.get(n),
    );
    const any = changed.size > 0 || changedNodes.length > 0;
    // A new cluster (an agent restarted without state) starts its indexes over: older answers say nothing about them.
    if (index < (this.#answers.at(-1)?.index ?? 0)) this.#answers.length = 0;
    this.#answers.push({ index, changed: any });
    if (this.#answers.length > RECENT_ANSWERS) this.#answers.shift();
    this.#explain();
    if (!any) return false;
    for (const name of this.#host.followed()) {
      if (changed.has(name)) this.#reads.add(name);
      else if (changedNodes.length > 0) {
        // A node check (serfHealth, maintenance) changes every service on that node.
        const known = this.#host.consulNodesOf(name);
        if (changedNodes.some((n) => known?.has(n) || servicesOnNode.get(n)?.has(name))) this.#reads.add(name);
      }
    }
    return true;
  }

  /** The first answers of both queries are the baseline; every followed service is read once after them. */
  #prime(): void {
    if (this.#primed || !this.#catalog || !this.#services) return;
    this.#primed = true;
    this.#sweep();
  }

  /** Settles unexplained catalog changes that a health answer now covers, or that waited too long. */
  #explain(): void {
    this.#explainTimer?.cancel();
    this.#explainTimer = undefined;
    if (this.#controller.signal.aborted) return;
    const now = systemClock.now();
    let sweep = false;
    let next = Number.POSITIVE_INFINITY;
    for (const [index, since] of this.#unexplained) {
      const covering = this.#answers.find((a) => a.index >= index);
      if (covering || now - since >= EXPLAIN_WINDOW_MS) {
        this.#unexplained.delete(index);
        if (!covering?.changed) sweep = true;
      } else next = Math.min(next, since + EXPLAIN_WINDOW_MS);
    }
    if (sweep) this.#scheduleSweep();
    if (next !== Number.POSITIVE_INFINITY) {
      this.#explainTimer = systemClock.setTimeout(() => this.#explain(), next - now);
    }
  }

  #scheduleSweep(): void {
    if (this.#sweepTimer) return;
    const wait = Math.max(0, this.#lastSweep + SWEEP_INTERVAL_MS - systemClock.now());
    this.#sweepTimer = systemClock.setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#sweep();
    }, wait);
  }

  #sweep(): void {
    if (this.#controller.signal.aborted) return;
    this.#lastSweep = systemClock.now();
    for (const name of this.#host.followed()) this.#reads.add(name);
  }
}

/** Reads names a few at a time; a name added while queued is read once, one added while being read is read again. */
class ReadQueue {
  readonly #pending = new Set<string>();
  readonly #attempts = new Map<string, number>();
  #running = 0;

  constructor(
    readonly concurrency: number,
    readonly host: AggregateHost,
    readonly signal: AbortSignal,
  ) {}

  add(name: string): void {
    if (this.signal.aborted) return;
    this.#pending.add(name);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#pending.size > 0 && !this.signal.aborted) {
      const name = this.#pending.values().next().value as string;
      this.#pending.delete(name);
      this.#running++;
      this.host
        .reread(name, this.signal)
        .then(
          () => this.#attempts.delete(name),
          (error: unknown) => {
            if (this.signal.aborted) return;
            const attempt = (this.#attempts.get(name) ?? 0) + 1;
            this.#attempts.set(name, attempt);
            this.host.onReadError(name, error);
            systemClock.setTimeout(() => {
              if (this.host.consulNodesOf(name) !== undefined) this.add(name);
            }, backoffDelay(attempt));
          },
        )
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function sameTags(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
