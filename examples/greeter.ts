/**
 * A greeter HTTP server that registers itself, the way a real service would: listen first, then
 * register the address it really got, deregister on shutdown.
 *
 * Run directly (`tsx examples/greeter.ts <id> <host>`) it is one process of the LAN demo: it
 * registers on the registry the environment names, prints `ready <address>`, and stops with a
 * goodbye when told `stop` on stdin (or on SIGTERM).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRegistry, type Registration, type Registry } from '../src/index.js';

export interface Greeter {
  readonly id: string;
  readonly address: string;
  readonly registration: Registration;
  stop(): Promise<void>;
}

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
    { ttl: 9_000 },
  );
  return {
    id,
    address,
    registration,
    async stop() {
      await registration.deregister();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function main(id: string, host: string): Promise<void> {
  const registry = await createRegistry();
  const greeter = await startGreeter(registry, id, host);
  console.log(`ready ${greeter.address}`);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await greeter.stop();
      await registry.close();
      console.log('stopped');
      process.exit(0);
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stop());
  for await (const line of createInterface({ input: process.stdin })) if (line.trim() === 'stop') await stop();
  // The demo went away without a word: leave as a crashed process would.
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [id, host] = process.argv.slice(2);
  main(id ?? 'greeter', host ?? '127.0.0.1').catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
