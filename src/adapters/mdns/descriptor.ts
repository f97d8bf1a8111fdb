/**
 * The mdns adapter's descriptor: `mdns://?profile=go-micro&domain=micro`.
 * @module
 */
import type { AdapterDescriptor } from '../../adapter-descriptor.js';
import type { MdnsOptions } from './index.js';

export const mdnsAdapter: AdapterDescriptor<'mdns', MdnsOptions> = Object.freeze({
  kind: 'mdns',
  urlParams: { profile: 'profile', domain: 'domain' },
  load: async () => (await import('./index.js')).createMdnsRegistry,
});
