/**
 * A real dev agent for one test and consul registries on it, all closed (registries first, then
 * the agent) when the test ends, also on failure.
 */
import type { TestContext } from 'node:test';
import type { ConsulOptions } from '../../src/adapters/consul/index.js';
import { createRegistry, type Registry } from '../../src/index.js';
import { type DevAgent, type DevAgentOptions, requirePeer, startDevAgent } from '../peers/consul.js';

export interface AgentRegistries {
  agent: DevAgent;
  /** A new registry on the agent, with the defaults given to {@link withAgent} and then `options`. */
  open(options?: Omit<ConsulOptions, 'kind'>): Promise<Registry>;
}

/** Undefined when the agent is unavailable outside CI (the test was skipped loudly). */
export async function withAgent(
  t: TestContext,
  defaults: Omit<ConsulOptions, 'kind'> = {},
  agentOptions: DevAgentOptions = {},
): Promise<AgentRegistries | undefined> {
  const agent = await requirePeer(t, () => startDevAgent(agentOptions));
  if (!agent) return undefined;
  const registries: Registry[] = [];
  t.after(async () => {
    await Promise.allSettled(registries.map((r) => r.close()));
    await agent.stop();
  });
  return {
    agent,
    async open(options = {}) {
      const registry = await createRegistry({ kind: 'consul', address: agent.address, ...defaults, ...options });
      registries.push(registry);
      return registry;
    },
  };
}
