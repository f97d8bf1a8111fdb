/**
 * Picking a node to call: random (Go Micro's default) or round-robin, with filters by version,
 * node metadata and endpoint. {@link createSelector} picks from services you pass it; a selector
 * bound to a cache ({@link selectorFor}, `cache.selector()`) looks the service up itself, keeps
 * round-robin positions per service name and avoids nodes reported as failed (Go Micro's `Mark`).
 * @module
 */
import type { CachedRegistry, CacheEntry } from './cache.js';
import { isWatchCache } from './cache.js';
import { RollcallError } from './errors.js';
import type { Clock } from './internal/clock.js';
import type { GetServiceOptions, Node, Service } from './registry.js';
import { type VersionFilter, versionFilter } from './version-match.js';

/** Which nodes a selector may pick and how it cycles through them (Go Micro's selector filters and strategies). */
export interface SelectOptions {
  /**
   * `random` spreads load without shared state; `round-robin` cycles through the nodes in a stable
   * order (registries return nodes sorted by id, versions sorted).
   * @default 'random'
   */
  strategy?: 'random' | 'round-robin';
  /**
   * Only nodes of matching versions:
   * - an exact version (`"1.4.2"`, `"v2-beta"`); `""` means unversioned services only;
   * - a semver range (`"^1.2"`, `"~1.4.0"`, `">=1 <3"`, `"1.x"`, `"1.0.0 - 1.4.0"`, `"a || b"`):
   *   the semver versions inside it (versions that are not semver match only when spelled exactly);
   * - `"*"`: every version; `"latest"`: only the highest live version (see {@link versionFilter}).
   * @default undefined (every version)
   */
  version?: string;
  /** Only nodes whose metadata contains all these pairs. @default undefined (no metadata filter) */
  metadata?: Readonly<Record<string, string>>;
  /** Only services that declare this endpoint. @default undefined (no endpoint filter) */
  endpoint?: string;
}

/** Options of a selector bound to a cache. */
export interface SelectorOptions extends SelectOptions {
  /**
   * What `select` does when the filters leave nodes but every one of them is marked as failed:
   * `open` picks among them anyway (the one whose mark ends first), because a mark is a guess and an
   * outage of every node is better met by trying than by refusing; `closed` rejects
   * `NONE_AVAILABLE`, as Go Micro's blacklist does.
   * @default 'open'
   */
  whenAllMarked?: 'open' | 'closed';
}

/** Options of one `select` call: the selector's options, overridden field by field, plus the lookup's. */
export interface PickOptions extends SelectorOptions {
  /** Aborts a lookup that has to wait for the backend. @default undefined */
  signal?: AbortSignal;
  /** How long a lookup that has to wait for the backend may take, in milliseconds. @default the cache's `coldTimeout` */
  timeout?: number;
}

/** A selector bound to a cache: picks a node of a service by name. */
export interface Selector {
  /**
   * A node of `name` that passes the filters and is not marked. Rejects `NOT_FOUND` when the
   * service has no live node, `NONE_AVAILABLE` when nodes exist but the filters (or marks, with
   * `whenAllMarked: 'closed'`) leave none.
   */
  select(name: string, options?: PickOptions): Promise<Node>;
  /**
   * Reports that a call to `node` of `name` failed: `select` avoids it for the cache's `markFor`
   * (Go Micro's `Mark` with an error). Marks are shared by every selector of the cache.
   */
  mark(name: string, node: Node | string): void;
  /** Reports that `node` works again (Go Micro's `Mark` without an error): its mark is lifted. */
  unmark(name: string, node: Node | string): void;
  /** Lifts every mark and round-robin position of `name`, or of every service. */
  reset(name?: string): void;
}

/** Version filters are compiled once per distinct text (they come from configuration: few). */
const filterCache = new Map<string, VersionFilter>();
function compiled(text: string): VersionFilter {
  let filter = filterCache.get(text);
  if (!filter) {
    filter = versionFilter(text);
    if (filterCache.size < 256) filterCache.set(text, filter);
  }
  return filter;
}

/** Every node of `services` that passes the filters. */
export function filterNodes(services: readonly Service[], options: SelectOptions = {}): Node[] {
  const out: Node[] = [];
  const version = options.version === undefined ? undefined : compiled(options.version);
  const latest = version?.pick(services.map((s) => s.version));
  for (const service of services) {
    if (version && !version.matches(service.version, latest)) continue;
    if (options.endpoint !== undefined && !service.endpoints.some((e) => e.name === options.endpoint)) continue;
    for (const node of service.nodes) {
      if (options.metadata && !metadataMatches(node, options.metadata)) continue;
      out.push(node);
    }
  }
  return out;
}

function metadataMatches(node: Node, wanted: Readonly<Record<string, string>>): boolean {
  for (const key in wanted) if (node.metadata[key] !== wanted[key]) return false;
  return true;
}

function noneAvailable(name: string, why: string): RollcallError {
  return new RollcallError('NONE_AVAILABLE', `no node of ${JSON.stringify(name)} is available: ${why}`);
}

function describeFilters(options: SelectOptions): string {
  const parts: string[] = [];
  if (options.version !== undefined) parts.push(`version ${JSON.stringify(options.version)}`);
  if (options.metadata) parts.push(`metadata ${JSON.stringify(options.metadata)}`);
  if (options.endpoint !== undefined) parts.push(`endpoint ${JSON.stringify(options.endpoint)}`);
  return parts.length ? `none matches ${parts.join(', ')}` : 'none matches';
}

/**
 * A picker over services you pass it. Round-robin keeps its position in the picker itself, so keep
 * one picker per downstream service (or use a cache's selector, whose positions live in the cache).
 * Throws `NOT_FOUND` for an empty list, `NONE_AVAILABLE` when the filters leave no node.
 */
export function createSelector(options: SelectOptions = {}): (services: readonly Service[]) => Node {
  let next = 0;
  return (services) => {
    const nodes = filterNodes(services, options);
    if (nodes.length === 0) {
      const name = services[0]?.name ?? 'service';
      if (services.every((s) => s.nodes.length === 0)) throw new RollcallError('NOT_FOUND', `service ${JSON.stringify(name)} not found`);
      throw noneAvailable(name, describeFilters(options));
    }
    if (options.strategy === 'round-robin') {
      const node = nodes[next % nodes.length] as Node;
      next = (next + 1) % Number.MAX_SAFE_INTEGER;
      return node;
    }
    return nodes[Math.floor(Math.random() * nodes.length)] as Node;
  };
}

/** Most marks kept per service, and most services with marks: marking ids or names that never existed cannot grow the maps without end. */
const MAX_MARKS = 1024;

/**
 * @internal Marks of failed nodes, per service name, held by a cache so that every selector of it
 * (one made per call too) shares them; forgotten when the cache evicts the name. (Round-robin
 * positions live on the cache's entry of each name.)
 */
export class SelectionState {
  readonly #clock: Clock;
  readonly #markFor: number;
  /** name -> node id -> clock time the mark ends. */
  readonly #marks = new Map<string, Map<string, number>>();

  constructor(clock: Clock, markFor: number) {
    this.#clock = clock;
    this.#markFor = markFor;
  }

  mark(name: string, id: string): void {
    let marks = this.#marks.get(name);
    if (!marks) {
      if (this.#marks.size >= MAX_MARKS) this.#marks.delete(this.#marks.keys().next().value as string);
      this.#marks.set(name, (marks = new Map()));
    }
    marks.delete(id);
    if (marks.size >= MAX_MARKS) marks.delete(marks.keys().next().value as string);
    marks.set(id, this.#clock.now() + this.#markFor);
  }

  unmark(name: string, id: string): void {
    const marks = this.#marks.get(name);
    marks?.delete(id);
    if (marks?.size === 0) this.#marks.delete(name);
  }

  /** Live marks of `name` (expired ones are dropped), or undefined when there are none. */
  marksOf(name: string): Map<string, number> | undefined {
    const marks = this.#marks.get(name);
    if (!marks) return undefined;
    const now = this.#clock.now();
    for (const [id, until] of marks) if (until <= now) marks.delete(id);
    if (marks.size === 0) {
      this.#marks.delete(name);
      return undefined;
    }
    return marks;
  }

  forget(name?: string): void {
    if (name === undefined) this.#marks.clear();
    else this.#marks.delete(name);
  }
}

/** The nodes of an entry that pass `options`, reusing the unfiltered list while the entry is unchanged. */
function candidates(entry: CacheEntry, options: SelectOptions): readonly Node[] {
  if (options.version === undefined && options.metadata === undefined && options.endpoint === undefined) {
    if (entry.allNodes === undefined) {
      const all: Node[] = [];
      for (const s of entry.services) for (const n of s.nodes) all.push(n);
      entry.allNodes = Object.freeze(all);
    }
    return entry.allNodes;
  }
  // One filtered list per entry, for the options object it was built for (a selector's own options
  // are one object, so repeated picks with them filter once per change of the service).
  if (entry.filteredFor !== options || entry.filteredRevision !== entry.revision) {
    entry.filtered = Object.freeze(filterNodes(entry.services, options));
    entry.filteredFor = options;
    entry.filteredRevision = entry.revision;
  }
  return entry.filtered as readonly Node[];
}

/**
 * A selector over `cache` (made by `withCache`). `options` are the selector's defaults; each
 * `select` call may override them. Selectors are cheap: making one per call is fine, since
 * round-robin positions and marks live in the cache.
 */
export function selectorFor(cache: CachedRegistry, options: SelectorOptions = {}): Selector {
  if (!isWatchCache(cache)) {
    throw new RollcallError('INVALID_OPTIONS', 'selectorFor needs a registry made by withCache(registry)');
  }
  const state = cache.selection;

  const pick = (name: string, entry: CacheEntry, o: SelectorOptions): Node => {
    if (entry.services.length === 0) throw new RollcallError('NOT_FOUND', `service ${JSON.stringify(name)} not found`);
    let nodes = candidates(entry, o);
    if (nodes.length === 0) throw noneAvailable(name, describeFilters(o));
    const marks = state.marksOf(name);
    if (marks) {
      const unmarked = nodes.filter((n) => !marks.has(n.id));
      if (unmarked.length > 0) nodes = unmarked;
      else if ((o.whenAllMarked ?? 'open') === 'closed')
        throw noneAvailable(name, `all ${nodes.length} matching nodes are marked as failed`);
      else {
        // Fail open: the node whose mark ends first is the likeliest to be back.
        let best = nodes[0] as Node;
        for (const n of nodes) if ((marks.get(n.id) as number) < (marks.get(best.id) as number)) best = n;
        return best;
      }
    }
    if (nodes.length === 1) return nodes[0] as Node;
    if ((o.strategy ?? 'random') === 'round-robin') {
      // The position lives on the cache entry: per service name, shared by every selector, gone with the entry.
      const at = entry.position;
      entry.position = at >= Number.MAX_SAFE_INTEGER ? 0 : at + 1;
      return nodes[at % nodes.length] as Node;
    }
    return nodes[Math.floor(Math.random() * nodes.length)] as Node;
  };

  const idOf = (node: Node | string): string => (typeof node === 'string' ? node : node.id);

  return {
    select(name: string, pickOptions?: PickOptions): Promise<Node> {
      const o = pickOptions === undefined ? options : { ...options, ...pickOptions };
      const entry = cache.peekEntry(name);
      if (entry !== undefined) {
        try {
          return Promise.resolve(pick(name, entry, o));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      const lookup: GetServiceOptions = {};
      if (pickOptions?.signal) lookup.signal = pickOptions.signal;
      if (pickOptions?.timeout !== undefined) lookup.timeout = pickOptions.timeout;
      return cache.loadEntry(name, lookup).then((e) => pick(name, e, o));
    },
    mark(name, node) {
      state.mark(name, idOf(node));
    },
    unmark(name, node) {
      state.unmark(name, idOf(node));
    },
    reset(name) {
      state.forget(name);
      cache.resetPositions(name);
    },
  };
}
