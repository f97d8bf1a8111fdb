/**
 * The adapters this package ships, in the order `availableKinds()` lists them. Each line is one
 * adapter's descriptor (its own folder holds it); `createRegistry` registers them all at load.
 * @module
 */
import type { AdapterDescriptor } from '../adapter-descriptor.js';
import type { NetworkOptions } from '../config.js';
import { consulAdapter } from './consul/descriptor.js';
import { mdnsAdapter } from './mdns/descriptor.js';
import { memoryAdapter } from './memory-descriptor.js';

/** Part of the API, not available yet: `createRegistry` answers UNSUPPORTED until the adapter lands. */
const gossipAdapter: AdapterDescriptor<'gossip', NetworkOptions & Record<string, unknown>> = Object.freeze({
  kind: 'gossip',
  urlParams: { preset: 'preset', profile: 'profile' },
});

/** The descriptors of the adapters this package ships (`createRegistry` has registered them already). */
export const builtinAdapters = Object.freeze([memoryAdapter, mdnsAdapter, gossipAdapter, consulAdapter] as const);
