/**
 * The demo: three greeter servers register, a client watches the registry and calls them in turn
 * through a watch-driven cache and selector;
 * one server is SIGKILLed (no goodbye: it vanishes when its TTL runs out) and one stops gracefully
 * (a goodbye: it vanishes at once). The client prints what it saw and when, then the demo ends.
 *
 *   npm run demo                              # mdns, on a LAN of network namespaces (root)
 *   npm run demo -- --registry consul         # starts a Consul dev agent, or --address host:8500
 *   npm run demo -- --registry gossip         # a gossip cluster on 127.0.0.x, or --address seed:7946
 *   npm run demo -- --registry memory         # one process
 *
 * On mDNS (the default) the demo builds a LAN of its own out of Linux network namespaces (root):
 * each greeter on a host of its own, the client on a fourth, so nothing is ever multicast on this
 * machine's own network. Without root it says so and runs on gossip on 127.0.0.x instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crash } from '../src/adapters/memory.js';
import {
  availableKinds,
  createRegistry,
  type Registry,
  type RegistryKind,
  type RegistryOptions,
  resolveConfig,
  type Selector,
  withCache,
} from '../src/index.js';
import { findConsul, startDevConsul } from './consul-dev.js';
import { GREETER_TTL, startGreeter } from './greeter.js';
import { createDemoLan, lanPossible } from './lan.js';

const epoch = Number(process.env.DEMO_EPOCH ?? Date.now());
const elapsed = () => `+${((Date.now() - epoch) / 1000).toFixed(1).padStart(4)}s`;
const log = (line: string) => console.log(`[demo ${elapsed()}] ${line}`);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const IDS = ['greeter-1', 'greeter-2', 'greeter-3'] as const;
const KILLED = 'greeter-3';
const STOPPED = 'greeter-2';

/** What the client asks of whoever runs the servers. */
interface Control {
  kill(id: string): void;
  stop(id: string): void;
}

/** One call through the cached selector; a node that refuses is marked and another one tried. */
async function call(selector: Selector): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const node = await selector.select('greeter', { timeout: 2_000 });
    try {
      const res = await fetch(`http://${node.address}/hello?name=demo`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { greeting: string; from: string };
      return `${body.greeting} (from ${body.from} at ${node.address})`;
    } catch (error) {
      if (attempt === 3) throw error;
      selector.mark('greeter', node);
      log(`  (${node.id} at ${node.address} did not answer: marked, trying another)`);
    }
  }
}

/** The client, wherever it runs: watch, call, have one server killed and one stopped, call again. */
async function client(registry: Registry, control: Control): Promise<void> {
  const watcher = registry.watch({ service: 'greeter' });
  const live = new Set<string>();
  const waiters = new Set<() => boolean>();
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return false;
        resolve();
        return true;
      };
      if (!check()) waiters.add(check);
    });
  const watching = (async () => {
    for await (const event of watcher) {
      if (event.type === 'resync') continue;
      for (const n of event.added) live.add(n.id);
      for (const n of event.removed) live.delete(n.id);
      const nodes = event.service.nodes.map((n) => n.id).join(', ') || 'none';
      const removed = event.removed.map((n) => n.id).join(', ');
      log(`watch: ${event.type} greeter@${event.service.version} nodes [${nodes}]${removed ? ` removed [${removed}]` : ''}`);
      for (const w of [...waiters]) if (w()) waiters.delete(w);
    }
  })();
  await watcher.synced;
  await until(() => IDS.every((id) => live.has(id)));

  // Calls go through a watch-driven cache: after its first lookup no call waits on the registry.
  const cache = withCache(registry);
  const selector = cache.selector({ strategy: 'round-robin' });
  let calls = 0;
  const calling = async (n: number) => {
    for (let i = 0; i < n; i++) log(`call ${++calls}: ${await call(selector)}`);
  };
  await calling(3);

  let asked = Date.now();
  log(
    registry.kind === 'gossip'
      ? `${KILLED} is SIGKILLed: no goodbye, so it stays listed until the cluster finds it dead or its ttl (${GREETER_TTL / 1000} s) runs out`
      : `${KILLED} is SIGKILLed: no goodbye, so it stays listed until its ttl (${GREETER_TTL / 1000} s) runs out`,
  );
  control.kill(KILLED);
  await until(() => !live.has(KILLED));
  log(`saw ${KILLED} gone ${((Date.now() - asked) / 1000).toFixed(1)} s after the kill`);
  await calling(2);

  asked = Date.now();
  log(`${STOPPED} stops gracefully: it says goodbye`);
  control.stop(STOPPED);
  await until(() => !live.has(STOPPED));
  log(`saw ${STOPPED} gone ${((Date.now() - asked) / 1000).toFixed(1)} s after the stop`);
  await calling(2);

  watcher.stop();
  await watching;
  await cache.close();
}

/** A greeter in a child process (here or on a namespace host), stopped with a goodbye or killed. */
function greeterChild(id: string, child: ChildProcess) {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  child.stdin?.on('error', () => {}); // a killed greeter no longer reads
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => l.startsWith('ready ') && resolve(l.slice(6)));
    child.once('exit', (code) => reject(new Error(`${id} exited (${code}) before it was ready`)));
  });
  return {
    id,
    ready,
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
    stop: () => {
      if (!stopped) child.stdin?.end('stop\n');
      stopped = true;
      return exited;
    },
  };
}

/** Memory: servers and client share one process; a crash stands in for SIGKILL. */
async function onMemory(): Promise<void> {
  log('registry: memory, everything in this process (a crashed registry stands in for SIGKILL)');
  const registries = await Promise.all(IDS.map(() => createRegistry('memory://demo')));
  const greeters = await Promise.all(IDS.map((id, i) => startGreeter(registries[i] as Registry, id)));
  for (const g of greeters) log(`${g.id} listening on ${g.address} and registered`);
  const clientRegistry = await createRegistry('memory://demo');
  const byId = (id: string) => IDS.indexOf(id as (typeof IDS)[number]);
  await client(clientRegistry, {
    kill: (id) => {
      crash(registries[byId(id)] as Registry);
      void greeters[byId(id)]?.closeServer();
    },
    stop: (id) => void greeters[byId(id)]?.stop(),
  });
  await Promise.all([...registries, clientRegistry].map((r) => r.close()));
}

/** Consul: a dev agent unless an address is given; greeters as child processes on 127.0.0.1. */
async function onConsul(address: string | undefined): Promise<void> {
  let agent: Awaited<ReturnType<typeof startDevConsul>> | undefined;
  if (!address) {
    const bin = findConsul();
    if (!bin)
      throw new Error('no consul binary (install Consul, or run scripts/peers/consul.sh); or point at an agent with --address host:8500');
    agent = await startDevConsul(bin);
    address = agent.address;
    log(`registry: consul, a dev agent started for the demo on ${address} (pid ${agent.pid})`);
    log('         (to use a real agent: npm run demo -- --registry consul --address 10.0.0.2:8500)');
  } else log(`registry: consul at ${address}`);
  const env = { ...process.env, ROLLCALL_REGISTRY: 'consul', ROLLCALL_REGISTRY_ADDRESS: address, GREETER_STDIN_CONTROL: '1' };
  const children = IDS.map((id) =>
    greeterChild(
      id,
      spawn(process.execPath, ['--import', 'tsx', here('./greeter.ts'), id, '127.0.0.1'], { env, stdio: ['pipe', 'pipe', 'inherit'] }),
    ),
  );
  try {
    for (const g of children) log(`${g.id} (child process) listening on ${await g.ready} and registered`);
    const registry = await createRegistry({ kind: 'consul', address });
    const find = (id: string) => children.find((g) => g.id === id);
    await client(registry, { kill: (id) => void find(id)?.kill(), stop: (id) => void find(id)?.stop() });
    await registry.close();
  } finally {
    await Promise.all(children.map((g) => g.stop()));
    await agent?.stop();
  }
}

/**
 * Gossip: the client is the first member (the seed) on 127.0.0.2, each greeter a child process and
 * a member of its own on 127.0.0.3-5 (free ports, the `local` preset); loopback only. With
 * --address the client and greeters join that cluster instead.
 */
async function onGossip(address: string | undefined): Promise<void> {
  const registry = address
    ? await createRegistry({ kind: 'gossip', address, port: 0, name: 'demo-client' } as RegistryOptions)
    : await createRegistry({ kind: 'gossip', bind: '127.0.0.2', port: 0, preset: 'local', name: 'demo-client' } as RegistryOptions);
  const seed = address ?? String(registry.stats().address);
  log(
    address
      ? `registry: gossip, joining the cluster at ${seed}`
      : `registry: gossip, a cluster on loopback: the client is the seed member at ${seed}, each greeter a member of its own`,
  );
  const children = IDS.map((id, i) => {
    const host = address ? '127.0.0.1' : `127.0.0.${3 + i}`;
    const query = address ? `port=0&name=${id}` : `bind=${host}&port=0&preset=local&name=${id}`;
    const env = {
      ...process.env,
      ROLLCALL_REGISTRY: `gossip://${seed}?${query}`,
      ROLLCALL_REGISTRY_ADDRESS: '',
      GREETER_STDIN_CONTROL: '1',
    };
    return greeterChild(
      id,
      spawn(process.execPath, ['--import', 'tsx', here('./greeter.ts'), id, host], { env, stdio: ['pipe', 'pipe', 'inherit'] }),
    );
  });
  try {
    for (const g of children) log(`${g.id} (child process, gossip member) listening on ${await g.ready} and registered`);
    const find = (id: string) => children.find((g) => g.id === id);
    await client(registry, { kill: (id) => void find(id)?.kill(), stop: (id) => void find(id)?.stop() });
  } finally {
    await Promise.all(children.map((g) => g.stop()));
    await registry.close();
  }
}

/** mDNS: greeters on three namespace hosts, the client on a fourth. */
async function onLan(): Promise<void> {
  const lan = createDemoLan(['g1', 'g2', 'g3', 'client']);
  try {
    const [g1, g2, g3, clientHost] = lan.hosts as [
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
    ];
    log(`registry: mdns, on a LAN of network namespaces (${lan.subnet}): three greeter hosts and a client host on one bridge`);
    const env = { DEMO_EPOCH: String(epoch), GREETER_STDIN_CONTROL: '1' };
    const servers = [g1, g2, g3].map((host, i) => {
      const id = IDS[i] as string;
      return { host, ...greeterChild(id, lan.run(host, here('./greeter.ts'), [id, host.address], env)) };
    });
    for (const s of servers) log(`${s.id} on host ${s.host.name} (${s.host.address}) listening on ${await s.ready} and registered`);
    log(`client on host ${clientHost.name} (${clientHost.address})`);
    const child = lan.run(clientHost, here('./demo.ts'), ['--client'], env);
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
      const [verb, id] = line.split(' ');
      const server = servers.find((s) => s.id === id);
      if (verb === '@kill') void server?.kill();
      else if (verb === '@stop') void server?.stop();
      else console.log(line);
    }
    await Promise.all(servers.map((s) => s.stop()));
  } finally {
    lan.destroy();
  }
}

/** The kind and address from --registry/--address, else the environment, as an application would pick them. */
function choose(registry: string | undefined, address: string | undefined): { kind: RegistryKind; address: string | undefined } {
  const input = registry?.includes('://') ? registry : registry ? ({ kind: registry } as RegistryOptions) : undefined;
  const { kind, options } = resolveConfig(input);
  const fromConfig = options.address as readonly string[] | undefined;
  return { kind, address: address ?? fromConfig?.join(',') };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error('[demo] did not finish within 60 s');
    process.exit(1);
  }, 60_000);
  watchdog.unref();
  const { values } = parseArgs({ options: { registry: { type: 'string' }, address: { type: 'string' }, client: { type: 'boolean' } } });
  if (values.client) {
    const registry = await createRegistry({ kind: 'mdns' });
    await client(registry, { kill: (id) => console.log(`@kill ${id}`), stop: (id) => console.log(`@stop ${id}`) });
    await registry.close();
    return;
  }
  const { kind, address } = choose(values.registry, values.address);
  if (!availableKinds().includes(kind)) {
    log(`note: the ${kind} adapter is not in this version yet (available: ${availableKinds().join(', ')}); running on memory`);
    await onMemory();
  } else if (kind === 'consul') await onConsul(address);
  else if (kind === 'memory') await onMemory();
  else if (kind === 'gossip') await onGossip(address);
  else if (lanPossible()) await onLan();
  else {
    log('note: the mDNS demo builds its own LAN of network namespaces, which needs root on Linux');
    log('note: so it runs on the gossip adapter on 127.0.0.x instead (loopback only, nothing is multicast)');
    await onGossip(undefined);
  }
  log('done');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[demo] ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);
