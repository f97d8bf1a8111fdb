/**
 * The conformance suite on the gossip adapter across processes: every registry is a child process
 * bound to its own loopback address (127.0.2.x), joined to one seed member in this process, on the
 * `local` preset's timing. A crash is a real SIGKILL; other members learn it from SWIM or the ttl.
 * Blindness is a firewall: an nftables table drops every packet to or from one member's address,
 * datagrams and streams alike (both leave from the bound address).
 */
import { after } from 'node:test';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { createRegistry, type Registry } from '../../src/index.js';
import { type Blindness, testRegistry } from '../conformance/suite.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { lanAvailable } from '../peers/lan.js';
import { peerSkip, sh } from '../peers/peer-process.js';

// A /24 of its own, so the firewall rule of one member never touches another suite's sockets.
const seed: Registry = await createRegistry({ kind: 'gossip', bind: '127.0.2.1', port: 0, preset: 'local', name: `seed-${process.pid}` });
const seedAddress = String(seed.stats().address);
after(() => seed.close());

let next = 0;
const hosts = new WeakMap<Registry, string>();
/** A loopback address per child, so each member has its own (127.0.2.2 .. 127.0.2.250). */
const nextHost = () => `127.0.2.${2 + (next++ % 249)}`;

async function create(): Promise<Registry> {
  const host = nextHost();
  const registry = await spawnRegistry({ options: { kind: 'gossip', address: seedAddress, bind: host, port: 0, preset: 'local' } });
  hosts.set(registry, host);
  return registry;
}

const nft = lanAvailable(['nft']);
const skip = peerSkip('nftables as root (the blindness test)', nft.ok ? undefined : nft.reason);
const table = `rollcall_gc_${process.pid}`;
let tableExists = false;
async function dropTable(): Promise<void> {
  if (!tableExists) return;
  tableExists = false;
  await sh('nft', ['delete', 'table', 'inet', table]);
}
after(dropTable);

/**
 * How long until a cut member has declared every peer dead (its watch blind), or, restored, has one
 * live peer again. Cut: each peer is probed within a round over the few members of this suite, the
 * probe interval stretched by awareness as its probes keep failing (4 peers at most: 1 + 2 + 3 + 4
 * probe intervals), and an unconfirmed suspicion lasts its maximum. Restored: the rejoin backoff
 * has reached 8 s by then and SWIM's reconnect tries failed members every reconnectInterval, the
 * refutation of its own death takes a few gossip rounds. 5 s of slack for a loaded host.
 */
const notice =
  10 * local.probeInterval + local.suspicionMaxTimeoutMult * suspicionTimeout(local.suspicionMult, 4, local.probeInterval) + 8_000 + 5_000;

const blindness: Blindness | undefined = skip
  ? undefined
  : {
      async cut(registry) {
        const host = hosts.get(registry);
        if (!host) throw new Error('not a registry of this suite');
        await sh('nft', ['add', 'table', 'inet', table]);
        tableExists = true;
        await sh('nft', ['add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0 ; policy accept ; }']);
        await sh('nft', ['add', 'rule', 'inet', table, 'out', 'ip', 'saddr', host, 'drop']);
        await sh('nft', ['add', 'rule', 'inet', table, 'out', 'ip', 'daddr', host, 'drop']);
      },
      restore: () => dropTable(),
      notice,
    };

testRegistry({
  name: 'gossip across processes',
  create,
  crash: (registry) => (registry as RemoteRegistry).kill(),
  stats: (registry) => (registry as RemoteRegistry).remoteStats(),
  capabilities: { members: true, resync: false },
  timing: { ttl: 3_000, propagation: 5_000, expiry: 6_000, concurrency: 100, churnOps: 40 },
  blindness,
});
