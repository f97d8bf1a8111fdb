/**
 * The gossip adapter: registrations spread over a SWIM cluster (hashicorp/memberlist's protocol)
 * as Go Micro `gossip.Update` user messages, with no server to run. Every member keeps the whole
 * registry, so lookups and watches answer from local state.
 *
 * ```ts
 * import { createGossipRegistry } from 'rollcall/gossip';
 * const registry = await createGossipRegistry({ address: ['10.0.0.2:7946', '10.0.0.3:7946'] });
 * ```
 * @module rollcall/gossip
 */
import type { Registry } from '../../registry.js';
import type { GossipKeyring } from './registry/keyring-control.js';
import { GossipRegistry } from './registry/registry.js';
import { type GossipOptions, resolveGossipSettings } from './registry/settings.js';

export type { GossipKeyring } from './registry/keyring-control.js';
export type { GoMicroTtlOptions, GossipOptions, GossipPreset, GossipProfile } from './registry/settings.js';

/** A gossip registry: a {@link Registry} with this member's keyring, for rotating keys while it runs. */
export interface GossipRegistryHandle extends Registry {
  /** Install the new key on every member, `use` it on each in turn, then `remove` the old one everywhere. */
  readonly keyring: GossipKeyring;
}

/**
 * Creates a gossip registry: binds UDP and TCP on one port, joins the seeds (and keeps trying
 * while none answers). Rejects `CONFLICT` when the port is in use.
 */
export async function createGossipRegistry(options: GossipOptions = {}): Promise<GossipRegistryHandle> {
  const settings = resolveGossipSettings(options);
  return GossipRegistry.start(options, settings);
}

export default createGossipRegistry;
