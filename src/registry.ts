/**
 * The public contract every adapter implements: Go Micro's registry model, reshaped for
 * promises, async iterators and AbortSignal.
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { builtinAdapters } from './adapters/builtin.js';
import type { RollcallError } from './errors.js';

/**
 * Options of adapters added at run time with `registerAdapter`, by kind. Augment it so that
 * `createRegistry({ kind: 'etcd', ... })` type-checks with your adapter's options:
 * `declare module 'rollcall' { interface CustomAdapterOptions { etcd: EtcdOptions } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface CustomAdapterOptions {}

/** The adapters rollcall ships (`memory`, `mdns`, `gossip`, `consul`), and any in {@link CustomAdapterOptions}. */
export type RegistryKind = (typeof builtinAdapters)[number]['kind'] | (keyof CustomAdapterOptions & string);

/** String metadata, as Go Micro carries it (`map[string]string`). */
export type Metadata = Readonly<Record<string, string>>;

/** A request or response type description of an endpoint (Go Micro `registry.Value`). */
export interface Value {
  /** The field's name in its parent (`"name"` for a `name string` request field); free text. */
  readonly name: string;
  /** The field's type as the service's language spells it (`"string"`, `"HelloRequest"`); not checked. */
  readonly type: string;
  /** The fields of a structured type, recursively; `null` for a scalar (Go writes nil slices as `null`). */
  readonly values: readonly Value[] | null;
}

/** An RPC endpoint a service offers (Go Micro `registry.Endpoint`). */
export interface Endpoint {
  /** The method as callers address it, `Service.Method` in Go Micro (`Greeter.Hello`). */
  readonly name: string;
  /** Shape of the request message; `null` when the service did not describe it. */
  readonly request: Value | null;
  /** Shape of the response message; `null` when the service did not describe it. */
  readonly response: Value | null;
  /** Free-form pairs about the endpoint (Go Micro puts `stream: "true"` here); `{}` when none. */
  readonly metadata: Metadata;
}

/** One running instance of a service. */
export interface Node {
  /** Unique per instance; defaults to `<service name>-<uuid>`. */
  readonly id: string;
  /** `host:port`; IPv6 as `[addr]:port`, zone ids allowed (`[fe80::1%eth0]:80`). */
  readonly address: string;
  /**
   * Pairs callers filter and route on (Go Micro: `protocol`, `transport`, `server`, ...); `{}` when
   * none. At most 64 pairs, keys up to 128 bytes, values up to 512 bytes on every adapter.
   */
  readonly metadata: Metadata;
}

/**
 * One version of a named service and its live nodes. Objects returned by a registry are frozen
 * snapshots shared between callers: read them freely, never mutate them.
 */
export interface Service {
  /** What callers look the service up by (`greeter`); case-sensitive, never empty. */
  readonly name: string;
  /** May be empty: Go Micro services without a version use `""`. */
  readonly version: string;
  /** Pairs that describe this version as a whole; `{}` when none (mdns's go-micro profile cannot carry them). */
  readonly metadata: Metadata;
  /** The RPC methods this version offers; `[]` when it declares none. */
  readonly endpoints: readonly Endpoint[];
  /** The live instances of this version, sorted by id; empty in `listServices` results and `delete` events. */
  readonly nodes: readonly Node[];
}

/** What `register()` accepts: a {@link Service} where everything but the name and nodes may be left out. */
export interface ServiceInput {
  /** Required, non-empty; `INVALID_SERVICE` otherwise. */
  name: string;
  /** @default '' (unversioned, as Go Micro services without a version) */
  version?: string;
  /** Service-level pairs; `null` is read as `{}` (Go's nil map). @default {} */
  metadata?: Record<string, string> | null;
  /** `null` is read as `[]`. @default [] */
  endpoints?: readonly EndpointInput[] | null;
  /** At least one for `register()` (`INVALID_SERVICE` otherwise); at most 1024 (`TOO_LARGE`). */
  nodes: readonly NodeInput[];
}

/** A node as `register()` and `deregister()` accept it: a {@link Node} whose id and metadata may be left out. */
export interface NodeInput {
  /** Defaults to `<service name>-<random uuid>`. */
  id?: string;
  /**
   * `host:port` with a port from 1 to 65535; IPv6 as `[addr]:port`. A bad one is `INVALID_SERVICE`
   * naming the problem; `localhost` is refused where other hosts would read it (mdns, consul).
   */
  address: string;
  /** `null` is read as `{}`. Limits as {@link Node.metadata}: `TOO_LARGE` past them. @default {} */
  metadata?: Record<string, string> | null;
}

/** An endpoint as `register()` accepts it: an {@link Endpoint} whose parts may be left out. */
export interface EndpointInput {
  /** Required, non-empty; `INVALID_SERVICE` otherwise. */
  name: string;
  /** @default null */
  request?: Value | null;
  /** @default null */
  response?: Value | null;
  /** `null` is read as `{}`. @default {} */
  metadata?: Record<string, string> | null;
}

/** Options of one {@link Registry.register} call. */
export interface RegisterOptions {
  /**
   * The longest a node whose process died silently may still be seen, in milliseconds.
   * The registration is renewed internally every `ttl / 3`.
   * @default 30000
   */
  ttl?: number;
  /** Abort the registration attempt (not the registration once made: use `deregister()` for that). */
  signal?: AbortSignal;
}

/** Options of one {@link Registry.getService} call. */
export interface GetServiceOptions {
  /** Abort the lookup; the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * How long a lookup may wait for an answer, in milliseconds. Adapters with a local view
   * (memory, mdns, gossip) answer from it at once when it knows the service. Past it the call
   * rejects `TIMEOUT`.
   * @default undefined (no limit of its own: the adapter's bounds apply, mdns `lookupTimeout`, consul `requestTimeout`)
   */
  timeout?: number;
}

/** Options of one {@link Registry.listServices} call. */
export interface ListServicesOptions {
  /** Abort the listing; the promise rejects with an `AbortError`. */
  signal?: AbortSignal;
  /**
   * How long the listing may take, in milliseconds; past it the call rejects `TIMEOUT`.
   * @default undefined (no limit of its own: the adapter's bounds apply)
   */
  timeout?: number;
}

/** Options of {@link Registry.watch}. */
export interface WatchOptions {
  /** Watch one service by name; omit to watch every service. */
  service?: string;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  /**
   * How many distinct (name, version) changes may wait for a slow consumer before the watcher
   * gives up on coalescing and delivers one `resync` with the full state instead.
   * @default 10000
   */
  maxPending?: number;
}

/** A change to one (name, version) of a service. */
export interface ServiceEvent {
  /**
   * `create`: the (name, version) has its first live node (also every entry of the initial
   * snapshot); `update`: nodes were added, changed or removed and some remain; `delete`: its last
   * node is gone.
   */
  readonly type: 'create' | 'update' | 'delete';
  /**
   * The full current state of this (name, version). On `delete` its `nodes` is empty: that version
   * has no live node left.
   */
  readonly service: Service;
  /** Nodes that appeared since the previous event for this (name, version). */
  readonly added: readonly Node[];
  /** Nodes that changed address or metadata. */
  readonly updated: readonly Node[];
  /** Nodes that are gone. */
  readonly removed: readonly Node[];
}

/**
 * Delivered instead of individual events when a consumer fell so far behind that coalescing could
 * not keep up: replace everything you know with `services` (the full current state in scope).
 */
export interface ResyncEvent {
  /** Tells a resync from a {@link ServiceEvent}. */
  readonly type: 'resync';
  /** Every live (name, version) the watch covers, with its nodes; what is not here is gone. */
  readonly services: readonly Service[];
}

/** What a {@link Watcher} yields: a change to one (name, version), or the whole state after a slow consumer fell behind. */
export type WatchEvent = ServiceEvent | ResyncEvent;

/**
 * How well a watcher sees its backend. All watchers of one registry share the backend's condition.
 *
 * - `syncing`: the backend has not answered for this watch yet; what was yielded so far may be
 *   incomplete.
 * - `live`: the watcher follows the backend; what it yields is current.
 * - `blind`: the backend cannot be read, so changes are not seen and what was yielded last may be
 *   stale. On consul the agent is unreachable (or cannot answer); on mdns no network interface is
 *   usable; on gossip no peer is reachable; memory is never blind. The watcher keeps trying and
 *   turns `live` (or `syncing`, if it never had an answer) by itself once the backend answers again.
 */
export type WatchState = 'syncing' | 'live' | 'blind';

/** What a {@link Watcher} tells its listeners. */
export interface WatcherEvents {
  /**
   * The watcher's {@link WatchState} changed. `reason` says why it is blind (`UNAVAILABLE` on
   * consul, `UNSUPPORTED` on mdns) and is undefined for the other states.
   */
  state: [state: WatchState, reason: RollcallError | undefined];
}

/**
 * A live view of a registry's changes. Iterate it with `for await`; it yields the current state
 * first (as `create` events) and every change after that.
 *
 * Its {@link Watcher.state} says whether it can see the backend at all: listen with
 * `watcher.on('state', (state, reason) => ...)`. State changes are events rather than items of
 * the iteration because they matter most while the iteration is quiet: a blind watch yields
 * nothing, and a listener is told at once even while the loop awaits its next event.
 */
export interface Watcher extends AsyncIterableIterator<WatchEvent>, EventEmitter<WatcherEvents> {
  /**
   * Resolves once the backend's state for this watch is in hand: at once if nobody iterates yet
   * (the snapshot then waits as the first events), or, for a watcher already being iterated,
   * once the snapshot's events have been handed to the loop. It does not resolve while the
   * backend never answers (a blind watch): race it with a timeout, or listen for `state`.
   */
  readonly synced: Promise<void>;
  /** The watcher's current {@link WatchState}; after the iteration ends it no longer changes. */
  readonly state: WatchState;
  /** Why the watcher is blind; undefined unless {@link Watcher.state} is `blind`. */
  readonly blindReason: RollcallError | undefined;
  /** Ends the iteration and frees every backend query the watcher opened. Idempotent. */
  stop(): void;
  /** The same as {@link Watcher.stop}, for `using watcher = registry.watch()`. */
  [Symbol.dispose](): void;
}

/** What a {@link Registration} tells its listeners (`registration.on('lost', ...)`). */
export interface RegistrationEvents {
  /** The backend lost this registration (agent restart, expiry after a stall); it is being restored. */
  lost: [error: RollcallError];
  /** The registration is back in the backend after a `lost`. */
  restored: [];
  /**
   * Another host holds the name a node was published under, so the adapter gave the node another
   * name on the network (mdns: the DNS-SD instance `api-1` becomes `api-1 (2)`, RFC 6762 §9). The
   * node id, its address and what lookups return are unchanged; tools that browse by instance
   * name (avahi-browse, dns-sd) show the new name. A rename while `register()` was still probing
   * is emitted just after it resolves.
   */
  renamed: [rename: NodeRename];
}

/** What a {@link RegistrationEvents.renamed} event reports. */
export interface NodeRename {
  /** The id of the renamed node, as registered (it does not change). */
  readonly nodeId: string;
  /** The name lost to the other host. */
  readonly from: string;
  /** The name the node is published under now. */
  readonly to: string;
}

/**
 * A live registration: kept alive until `deregister()`, disposal or `registry.close()`.
 * `await using reg = await registry.register(...)` deregisters when the scope ends.
 */
export interface Registration extends EventEmitter<RegistrationEvents> {
  /** The service as stored (normalised, default node ids filled in). */
  readonly service: Service;
  /** The TTL in force, in milliseconds. */
  readonly ttl: number;
  /** Removes the nodes (a goodbye on networked adapters) and stops renewing. Idempotent. */
  deregister(): Promise<void>;
  /** The same as {@link Registration.deregister}, for `await using reg = await registry.register(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Counters every registry keeps; adapters add their own fields. */
export interface RegistryStats {
  /** The adapter these counters are from, as {@link Registry.kind}. */
  readonly kind: RegistryKind;
  /** Registrations currently kept alive by this registry. */
  readonly registrations: number;
  /** Watchers currently open. */
  readonly watchers: number;
  /** Events delivered to watch consumers. */
  readonly eventsDelivered: number;
  /** Times a slow consumer received a `resync` instead of individual events. */
  readonly resyncs: number;
  /** Open watchers whose backend has not answered yet ({@link WatchState} `syncing`). */
  readonly watchersSyncing: number;
  /** Open watchers that cannot see the backend now ({@link WatchState} `blind`). */
  readonly watchersBlind: number;
  /** Times this registry's watches went blind (the backend became unreadable). */
  readonly blindPeriods: number;
  /** Malformed or rejected input from the network, dropped and counted. */
  readonly dropped: number;
  /** Backend errors seen (and retried) in the background. */
  readonly backendErrors: number;
  readonly [extra: string]: number | string;
}

/** A member of the cluster behind a registry (gossip members, Consul LAN members). */
export interface Member {
  /** The member's node name, unique in the cluster (Consul's node name, memberlist's `Name`). */
  readonly name: string;
  /** Where the member gossips, `host:port` (Consul: the serf LAN address, port 8301 by default). */
  readonly address: string;
  /**
   * Membership state as the backend names it: serf's `alive`, `leaving`, `left`, `failed`
   * (Consul), memberlist's `alive`, `suspect`, `dead`, `left` (gossip).
   */
  readonly status: 'alive' | 'suspect' | 'dead' | 'left' | 'failed' | (string & {});
  /** The member's tags (Consul: `role`, `dc`, `build`, ...); `{}` when none. */
  readonly tags: Metadata;
}

/** Optional features an adapter may offer. */
export interface Capabilities {
  /** `members()` is available. */
  readonly members: boolean;
}

/** The one interface over every backend. */
export interface Registry {
  /** Which adapter this is (`memory`, `mdns`, `gossip`, `consul`, or a custom kind). */
  readonly kind: RegistryKind;
  /** The optional features this adapter has; check before calling {@link Registry.members}. */
  readonly capabilities: Capabilities;
  /**
   * Registers (or re-registers, updating) the service's nodes and keeps them alive, renewing every
   * `ttl / 3`. Rejects `INVALID_SERVICE` or `TOO_LARGE` for a service that fails validation (the
   * message names the field), `CLOSED` after `close()`, `UNAVAILABLE` when the backend cannot be
   * reached, `PERMISSION_DENIED` when it refuses (Consul ACLs), `CONFLICT` when mdns's go-micro
   * profile loses the name to another host, and an `AbortError` when `options.signal` fires.
   */
  register(service: ServiceInput, options?: RegisterOptions): Promise<Registration>;
  /**
   * Removes the given nodes of `service` (by id) and stops renewing any registration of this
   * registry that kept them alive. Rejects `INVALID_SERVICE` for a malformed service, `CLOSED`
   * after `close()`, `UNAVAILABLE` when the backend cannot be reached.
   */
  deregister(service: ServiceInput): Promise<void>;
  /**
   * Every live version of the service (one entry per version). Rejects `NOT_FOUND` when there is
   * none, `TIMEOUT` past `options.timeout`, `UNAVAILABLE` when the backend cannot be reached,
   * `INVALID_SERVICE` for an empty name, `CLOSED` after `close()`, an `AbortError` on abort.
   */
  getService(name: string, options?: GetServiceOptions): Promise<readonly Service[]>;
  /**
   * One entry per live (name, version), without nodes (`nodes` is always empty: ask
   * `getService` for them). The same shape on every adapter. Resolves `[]` when there is none;
   * rejects `TIMEOUT`, `UNAVAILABLE`, `CLOSED` or an `AbortError` as `getService` does.
   */
  listServices(options?: ListServicesOptions): Promise<Service[]>;
  /**
   * Follows one service (`options.service`) or all of them: the current state first, then every
   * change, as `for await` events. Throws `INVALID_SERVICE` for an empty name, `INVALID_OPTIONS`
   * for a bad `maxPending`, `CLOSED` after `close()`; a backend that refuses the watch for good
   * (`PERMISSION_DENIED`) ends the iteration with that error. See docs/watching.md.
   */
  watch(options?: WatchOptions): Watcher;
  /**
   * Cluster members, where the backend has them (see {@link Capabilities}): absent on memory and
   * mdns. Rejects `UNAVAILABLE` when the backend cannot be reached, `CLOSED` after `close()`.
   */
  members?(): Promise<Member[]>;
  /** A snapshot of this registry's counters, taken synchronously; adapters add fields of their own. */
  stats(): RegistryStats;
  /** Deregisters everything this registry registered, ends its watchers and stops its loops. Idempotent. */
  close(): Promise<void>;
  /** The same as {@link Registry.close}, for `await using registry = await createRegistry()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A pino-compatible logger: rollcall calls these four levels with `(object, message)`. */
export interface Logger {
  /** Per-event detail (a registration renewed, a datagram dropped); off in production. */
  debug(obj: object, msg?: string): void;
  /** Rare notable events (the default registry chosen, interfaces changed). */
  info(obj: object, msg?: string): void;
  /** Something failed and is being retried (a heartbeat, a watch query); the process carries on. */
  warn(obj: object, msg?: string): void;
  /** Something failed for good and needs attention. */
  error(obj: object, msg?: string): void;
}

/** Options every adapter accepts. */
export interface CommonOptions {
  /** A pino-style logger. Silent by default. Tokens and keys never reach it. */
  logger?: Logger;
  /**
   * Default TTL of registrations, in milliseconds.
   * @default 30000
   */
  ttl?: number;
  /**
   * Whether a live registration, or a watch being iterated, keeps the process up as a listening
   * server does. `false` lets the process exit under them (without a goodbye: the nodes expire
   * after their TTL); `close()` lets it go either way.
   * @default true
   */
  keepAlive?: boolean;
}
