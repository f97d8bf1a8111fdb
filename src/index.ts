export {
  availableKinds,
  createRegistry,
  DEFAULT_KIND,
  type NetworkOptions,
  parseRegistryUrl,
  type RegistryOptions,
  type ResolvedConfig,
  registryKinds,
  resolveConfig,
} from './config.js';
export { channels } from './diagnostics.js';
export { type ErrorCode, isRollcallError, RollcallError, type RollcallErrorOptions } from './errors.js';
export type * from './registry.js';
export { createSelector, filterNodes, type SelectOptions } from './selector.js';
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
export { buildEvent } from './watcher.js';
