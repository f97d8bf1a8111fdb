import { crash } from '../../src/adapters/memory.js';
import { createRegistry } from '../../src/index.js';
import { testRegistry } from '../conformance/suite.js';

const store = `conformance-${process.pid}`;

testRegistry({
  name: 'memory',
  create: () => createRegistry({ kind: 'memory', name: store }),
  crash: async (registry) => crash(registry),
  capabilities: { lostRestored: true },
  timing: { ttl: 300, propagation: 1_000, expiry: 1_500, concurrency: 100, churnOps: 200 },
  blindness: 'never',
});
