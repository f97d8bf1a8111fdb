/**
 * An HTTP server on 127.0.0.1 standing where a Consul agent would: tests make it answer what a
 * broken proxy or a hostile server would.
 */
import http from 'node:http';
import type net from 'node:net';

export interface FakeAgent {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

export async function startFakeAgent(handle: http.RequestListener): Promise<FakeAgent> {
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
