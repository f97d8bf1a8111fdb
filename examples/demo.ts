/**
 * The LAN demo: three greeter servers register, a client watches the registry, resolves greeter
 * and calls the servers in turn; one server stops, the client sees the `delete` and carries on.
 * Ends by itself. The backend comes from the environment (ROLLCALL_REGISTRY), memory by default.
 */
import { createRegistry, createSelector, type Registry, type Service } from '../src/index.js';
import { startGreeter } from './greeter.js';

const log = (line: string) => console.log(`[demo] ${line}`);

async function call(registry: Registry, pick: (s: readonly Service[]) => { id: string; address: string }): Promise<string> {
  const node = pick(await registry.getService('greeter', { timeout: 2_000 }));
  const res = await fetch(`http://${node.address}/hello?name=demo`);
  const body = (await res.json()) as { greeting: string; from: string };
  return `${body.greeting} (from ${body.from} at ${node.address})`;
}

async function main(): Promise<void> {
  // The environment picks the backend (ROLLCALL_REGISTRY=consul ...); on its own the demo runs in memory.
  const target = process.env.ROLLCALL_REGISTRY || process.env.MICRO_REGISTRY ? undefined : 'memory://demo';
  const servers = await createRegistry(target);
  const client = await createRegistry(target);
  log(`registry: ${servers.kind}`);

  const greeters = await Promise.all(['greeter-1', 'greeter-2', 'greeter-3'].map((id) => startGreeter(servers, id, process.env.DEMO_HOST)));
  for (const g of greeters) log(`${g.id} listening on ${g.address} and registered`);

  const watcher = client.watch({ service: 'greeter' });
  let seenDelete: () => void = () => {};
  const deleted = new Promise<void>((resolve) => {
    seenDelete = resolve;
  });
  const watching = (async () => {
    for await (const event of watcher) {
      if (event.type === 'resync') continue;
      const nodes = event.service.nodes.map((n) => n.id).join(', ') || 'none';
      const removed = event.removed.map((n) => n.id).join(', ');
      log(`watch: ${event.type} greeter@${event.service.version} nodes [${nodes}]${removed ? ` removed [${removed}]` : ''}`);
      if (event.removed.some((n) => n.id === 'greeter-2')) seenDelete();
    }
  })();
  await watcher.synced;

  const pick = createSelector({ strategy: 'round-robin' });
  for (let i = 0; i < 3; i++) log(`call ${i + 1}: ${await call(client, pick)}`);

  log('stopping greeter-2');
  await greeters[1]?.stop();
  await deleted;
  for (let i = 0; i < 3; i++) log(`call ${i + 4}: ${await call(client, pick)}`);

  watcher.stop();
  await watching;
  await Promise.all([greeters[0]?.stop(), greeters[2]?.stop()]);
  await Promise.all([servers.close(), client.close()]);
  log('done');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
