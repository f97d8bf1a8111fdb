/**
 * The conformance suite on the gossip adapter across processes: every registry is a child process
 * bound to its own loopback address (127.0.0.x), joined to one seed member in this process, on the
 * `local` preset's timing. A crash is a real SIGKILL; other members learn it from SWIM or the ttl.
 */
import { after } from 'node:test';
import { createRegistry, type Registry } from '../../src/index.js';
import { testRegistry } from '../conformance/suite.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';

const seed: Registry = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port: 0, preset: 'local', name: `seed-${process.pid}` });
const seedAddress = String(seed.stats().address);
after(() => seed.close());

let next = 0;
/** A loopback address per child, so each member has its own (127.0.0.2 .. 127.0.0.250). */
const nextHost = () => `127.0.0.${2 + (next++ % 249)}`;

testRegistry({
  name: 'gossip across processes',
  create: () => spawnRegistry({ options: { kind: 'gossip', address: seedAddress, bind: nextHost(), port: 0, preset: 'local' } }),
  crash: (registry) => (registry as RemoteRegistry).kill(),
  stats: (registry) => (registry as RemoteRegistry).remoteStats(),
  capabilities: { members: true, resync: false },
  timing: { ttl: 3_000, propagation: 3_000, expiry: 6_000, concurrency: 100, churnOps: 40 },
});
