/**
 * The gossip adapter's descriptor: `gossip://seed1:7946,seed2:7946?preset=local&label=prod`.
 * @module
 */
import type { AdapterDescriptor } from '../../adapter-descriptor.js';
import type { GossipOptions } from './registry/settings.js';

export const gossipAdapter: AdapterDescriptor<'gossip', GossipOptions> = Object.freeze({
  kind: 'gossip',
  urlParams: { preset: 'preset', profile: 'profile', bind: 'bind', port: 'port', advertise: 'advertise', name: 'name', label: 'label' },
  load: async () => (await import('./index.js')).createGossipRegistry,
});
