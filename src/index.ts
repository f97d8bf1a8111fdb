/**
 * Service discovery for Node.js: one {@link Registry} over memory, mDNS, gossip and Consul,
 * created with {@link createRegistry}; a watch-driven cache and selector for callers
 * ({@link withCache}); graceful shutdown ({@link gracefulShutdown}). Each adapter is also a subpath:
 * `rollcall/memory`, `rollcall/mdns`, `rollcall/consul`.
 * @module rollcall
 */
export {
  type AdapterDescriptor,
  type AdapterFactory,
  adapterDescriptor,
  type DescriptorOptions,
  registerAdapter,
  registeredKinds,
} from './adapter-descriptor.js';
export { builtinAdapters } from './adapters/builtin.js';
export {
  backoffDelay,
  type CachedLookup,
  type CachedRegistry,
  type CacheEntryStatus,
  type CacheOptions,
  type CacheState,
  type CacheStats,
  type RetryOptions,
  withCache,
} from './cache.js';
export {
  availableKinds,
  createRegistry,
  DEFAULT_KIND,
  DEFAULT_MDNS_WARNING,
  type NetworkOptions,
  parseRegistryUrl,
  type RegistryOptions,
  type ResolvedConfig,
  registryKinds,
  resolveConfig,
} from './config.js';
export { channels, type DiagnosticsMessages } from './diagnostics.js';
export { type ErrorCode, isRollcallError, RollcallError, type RollcallErrorOptions } from './errors.js';
export type * from './registry.js';
export {
  createSelector,
  filterNodes,
  type PickOptions,
  type SelectOptions,
  type Selector,
  type SelectorOptions,
  selectorFor,
} from './selector.js';
export {
  addressProblem,
  deepEqual,
  diffNodes,
  joinHostPort,
  type NodeDiff,
  type NormalizeOptions,
  normalizeService,
  portableLimits,
  type SizeLimits,
  splitHostPort,
} from './service.js';
export { gracefulShutdown, type ShutdownHandle, type ShutdownOptions } from './shutdown.js';
export { latestOf, type VersionFilter, versionFilter } from './version-match.js';
export { buildEvent } from './watcher.js';
