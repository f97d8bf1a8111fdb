/**
 * A greeter HTTP server that registers itself, the way a real service does: listen first, then
 * register the address it really got, say goodbye on shutdown.
 *
 *   npx tsx examples/greeter.ts [id] [host]
 *
 * With no configuration it registers over mDNS, so a client on another machine of the LAN finds it
 * (examples/greeter-client.ts); `ROLLCALL_REGISTRY=consul://10.0.0.2:8500` puts it in Consul
 * instead. `host` is the address to listen on and publish (default: this machine's first LAN
 * IPv4 address). It prints `ready <address>` once registered; on Ctrl+C or SIGTERM it says goodbye,
 * serves two more seconds while callers move away, and exits (the demo, which sets
 * GREETER_STDIN_CONTROL=1, also stops it with a `stop` line on stdin).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRegistry, gracefulShutdown, type Registration, type Registry } from '../src/index.js';

export interface Greeter {
  readonly id: string;
  readonly address: string;
  readonly registration: Registration;
  /** Deregisters (a goodbye), then closes the server. */
  stop(): Promise<void>;
  /** Closes the server at once, without a goodbye. */
  closeServer(): Promise<void>;
}

/** How long a greeter outlives a crash in the registry: short, so the demo shows it. */
export const GREETER_TTL = Number(process.env.GREETER_TTL ?? 6_000);

export async function startGreeter(registry: Registry, id: string, host = '127.0.0.1'): Promise<Greeter> {
  const server: Server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? 'world';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ greeting: `hello ${name}`, from: id }));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const registration = await registry.register(
    {
      name: 'greeter',
      version: '1.0.0',
      endpoints: [{ name: 'Greeter.Hello', request: { name: 'name', type: 'string', values: null } }],
      nodes: [{ id, address, metadata: { protocol: 'http' } }],
    },
    { ttl: GREETER_TTL },
  );
  const closeServer = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    id,
    address,
    registration,
    closeServer,
    async stop() {
      await registration.deregister();
      await closeServer();
    },
  };
}

/** The first non-internal IPv4 address: what another machine of the LAN reaches this one by. */
function lanAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return '127.0.0.1';
}

async function main(id: string, host: string): Promise<void> {
  const registry = await createRegistry();
  const greeter = await startGreeter(registry, id, host);
  console.log(`ready ${greeter.address}`);
  // Ctrl+C or SIGTERM: goodbye first, keep answering while callers' caches catch up, then close.
  const shutdown = gracefulShutdown({ registry, registrations: [greeter.registration], onDrained: () => greeter.closeServer() });
  if (process.env.GREETER_STDIN_CONTROL !== '1') return; // the listening server keeps the process up
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'stop') continue;
    await shutdown.shutdown();
    process.exit(0);
  }
  // The demo went away without a word: leave as a crashed process would.
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [id, host] = process.argv.slice(2);
  main(id || `greeter-${process.pid}`, host || lanAddress()).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
