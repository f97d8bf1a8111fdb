/**
 * The memory adapter's descriptor: `memory://name` shares a named store.
 * @module
 */
import type { AdapterDescriptor } from '../adapter-descriptor.js';
import type { MemoryOptions } from './memory.js';

export const memoryAdapter: AdapterDescriptor<'memory', MemoryOptions> = Object.freeze({
  kind: 'memory',
  urlAuthority: 'name',
  load: async () => (await import('./memory.js')).createMemoryRegistry,
});
