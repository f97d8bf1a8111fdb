/**
 * The conformance suite against a real Consul dev agent: every registry of the suite talks to the
 * same agent, as processes on one host would.
 */
import { after, describe } from 'node:test';
import { crashConsulRegistry } from '../../src/adapters/consul/registry.js';
import { createRegistry } from '../../src/index.js';
import { testRegistry } from '../conformance/suite.js';
import { type DevAgent, PeerUnavailableError, startDevAgent } from '../peers/consul.js';

let agent: DevAgent | undefined;
let unavailable: string | undefined;
try {
  agent = await startDevAgent();
} catch (error) {
  if (!(error instanceof PeerUnavailableError) || process.env.CI === 'true') throw error;
  unavailable = `SKIPPED (no real consul): ${error.message}`;
  process.stderr.write(`\n*** ${unavailable}\n`);
}
after(() => agent?.stop());

if (agent) {
  const address = agent.address;
  testRegistry({
    name: 'consul',
    create: () => createRegistry({ kind: 'consul', address }),
    crash: async (registry) => crashConsulRegistry(registry),
    capabilities: { members: true, lostRestored: true },
    timing: { ttl: 3_000, propagation: 3_000, expiry: 6_000, concurrency: 100, churnOps: 100 },
    // Every registry of the suite shares the one agent: killing it blinds them all, and the
    // restarted agent (same ports, empty) is the one they find again, after at most one backoff.
    blindness: {
      cut: async () => (agent as DevAgent).kill(),
      restore: async () => (agent as DevAgent).restart(),
      notice: 20_000,
    },
  });
} else describe('conformance: consul', { skip: unavailable }, () => {});
