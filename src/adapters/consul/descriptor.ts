/**
 * The consul adapter's descriptor: `consul://host:port,host:port?dc=eu&token=...`.
 * @module
 */
import type { AdapterDescriptor } from '../../adapter-descriptor.js';
import type { ConsulOptions } from './index.js';

export const consulAdapter: AdapterDescriptor<'consul', ConsulOptions> = Object.freeze({
  kind: 'consul',
  urlParams: { dc: 'datacenter', consistency: 'consistency', token: 'token', tls: 'tls' },
  load: async () => (await import('./index.js')).createConsulRegistry,
});
