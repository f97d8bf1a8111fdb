/**
 * The LAN demo: three greeter servers register, a client watches the registry, resolves greeter
 * and calls the servers in turn; one server stops, the client sees the `delete` and carries on.
 * Ends by itself.
 *
 * On mDNS (the default) the demo builds a small LAN of its own out of Linux network namespaces
 * (needs root): each greeter on a host of its own, the client on a fourth, discovering each other
 * by multicast across a bridge, so nothing is ever multicast on this machine's own network.
 * Without root it runs on the memory adapter in one process and says so. ROLLCALL_REGISTRY picks
 * another backend (consul, ...), which then runs in one process too.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRegistry, createSelector, type Registry, type Service } from '../src/index.js';
import { startGreeter } from './greeter.js';
import { createDemoLan, lanPossible } from './lan.js';

const log = (line: string) => console.log(`[demo] ${line}`);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const IDS = ['greeter-1', 'greeter-2', 'greeter-3'];

async function call(registry: Registry, pick: (s: readonly Service[]) => { id: string; address: string }): Promise<string> {
  const node = pick(await registry.getService('greeter', { timeout: 2_000 }));
  const res = await fetch(`http://${node.address}/hello?name=demo`);
  const body = (await res.json()) as { greeting: string; from: string };
  return `${body.greeting} (from ${body.from} at ${node.address})`;
}

/** The client's part, wherever it runs: watch, call each server, have one stopped, call again. */
async function client(registry: Registry, stopServer: (id: string) => Promise<void>): Promise<void> {
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

  const pick = createSelector({ strategy: 'round-robin' });
  for (let i = 0; i < 3; i++) log(`call ${i + 1}: ${await call(registry, pick)}`);

  log('stopping greeter-2');
  await stopServer('greeter-2');
  await until(() => !live.has('greeter-2'));
  for (let i = 0; i < 3; i++) log(`call ${i + 4}: ${await call(registry, pick)}`);

  watcher.stop();
  await watching;
}

/** Everything in this process: the memory adapter, or whatever ROLLCALL_REGISTRY names. */
async function inProcess(target: string | undefined): Promise<void> {
  const servers = await createRegistry(target);
  const clientRegistry = await createRegistry(target);
  log(`registry: ${servers.kind}`);
  const greeters = await Promise.all(IDS.map((id) => startGreeter(servers, id, process.env.DEMO_HOST)));
  for (const g of greeters) log(`${g.id} listening on ${g.address} and registered`);
  await client(clientRegistry, async (id) => greeters.find((g) => g.id === id)?.stop());
  await Promise.all(greeters.filter((g) => g.id !== 'greeter-2').map((g) => g.stop()));
  await Promise.all([servers.close(), clientRegistry.close()]);
}

/** The mDNS demo: greeters on three namespace hosts, the client on a fourth. */
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
    const servers = await Promise.all(
      [g1, g2, g3].map(async (host, i) => {
        const id = IDS[i] as string;
        const child = lan.run(host, here('./greeter.ts'), [id, host.address]);
        const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
        const ready = await new Promise<string>((resolve, reject) => {
          lines.on('line', (line) => line.startsWith('ready ') && resolve(line.slice(6)));
          child.once('exit', (code) => reject(new Error(`${id} exited (${code}) before it was ready`)));
        });
        log(`${id} on host ${host.name} (${host.address}) listening on ${ready} and registered`);
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const stop = () => {
          child.stdin?.write('stop\n');
          return exited;
        };
        return { id, child, stop };
      }),
    );
    log(`client on host ${clientHost.name} (${clientHost.address})`);
    const child = lan.run(clientHost, here('./demo.ts'), ['--client']);
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
      if (line.startsWith('@stop ')) void servers.find((s) => s.id === line.slice(6))?.stop();
      else console.log(line);
    }
    await Promise.all(servers.map((s) => s.stop()));
  } finally {
    lan.destroy();
  }
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error('[demo] did not finish within 45 s');
    process.exit(1);
  }, 45_000);
  watchdog.unref();
  if (process.argv.includes('--client')) {
    const registry = await createRegistry();
    await client(registry, async (id) => void console.log(`@stop ${id}`));
    await registry.close();
    return;
  }
  const chosen = (process.env.ROLLCALL_REGISTRY || process.env.MICRO_REGISTRY || '').trim();
  // A bare `memory` would give each registry a private store: the demo's two share one.
  if (chosen && !chosen.startsWith('mdns')) await inProcess(chosen === 'memory' ? 'memory://demo' : undefined);
  else if (lanPossible()) await onLan();
  else {
    log('note: the mDNS demo builds its own LAN of network namespaces, which needs root on Linux;');
    log('note: running on the memory adapter in one process instead (nothing is multicast here)');
    await inProcess('memory://demo');
  }
  log('done');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
