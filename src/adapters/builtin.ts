/**
 * The adapters this package ships, in the order `availableKinds()` lists them. Each line is one
 * adapter's descriptor (its own folder holds it); `createRegistry` registers them all at load.
 * @module
 */
import { consulAdapter } from './consul/descriptor.js';
import { gossipAdapter } from './gossip/descriptor.js';
import { mdnsAdapter } from './mdns/descriptor.js';
import { memoryAdapter } from './memory-descriptor.js';

/** The descriptors of the adapters this package ships (`createRegistry` has registered them already). */
export const builtinAdapters = Object.freeze([memoryAdapter, mdnsAdapter, gossipAdapter, consulAdapter] as const);
