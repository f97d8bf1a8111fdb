/**
 * A counting HTTP proxy in front of a real Consul agent: what the cache really sends, counted on
 * the wire rather than by our own stats. Listens on 127.0.0.1 only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly at: number;
}

export interface CountingProxy {
  /** `http://127.0.0.1:PORT` */
  readonly address: string;
  readonly requests: SeenRequest[];
  /** Requests whose path is one of Consul's per-service reads of `name` (health or catalog). */
  forService(name: string): SeenRequest[];
  close(): Promise<void>;
}

/** Starts a proxy that forwards every request to `target` (`http://host:port`) and records it. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const requests: SeenRequest[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', at: performance.now() });
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    requests,
    forService(name) {
      const paths = [`/v1/health/service/${encodeURIComponent(name)}`, `/v1/catalog/service/${encodeURIComponent(name)}`];
      return requests.filter((r) => paths.some((p) => r.url === p || r.url.startsWith(`${p}?`)));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** The `index` query parameter of a Consul read: absent (or 0) for a read that answers at once. */
export function blockingIndex(request: SeenRequest): number {
  return Number(new URL(request.url, 'http://x').searchParams.get('index') ?? 0);
}
