/**
 * A greeter HTTP server that registers itself, the way a real service would: listen first, then
 * register the address it really got, deregister on shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registration, Registry } from '../src/index.js';

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
