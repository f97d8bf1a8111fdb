/**
 * A service process for the shutdown tests: registers one node on the Consul agent named by argv,
 * installs the graceful shutdown helper and prints JSON lines (`ready`, then each step).
 * argv: agentAddress serviceName drainDelay timeout mode(registrations|close)
 */
import http from 'node:http';
import { createRegistry, gracefulShutdown } from '../../src/index.js';

const [address, name, drain, timeout, mode] = process.argv.slice(2) as [string, string, string, string, string];
const say = (what: object): void => {
  process.stdout.write(`${JSON.stringify({ ...what, at: Date.now() })}\n`);
};
// The server is what keeps a real service process up; the helper closes it after the drain.
const server = http.createServer((_req, res) => res.end('hello'));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const registry = await createRegistry({ kind: 'consul', address, ttl: 60_000, requestTimeout: 60_000 });
const registration = await registry.register({ name, version: '1.0.0', nodes: [{ id: `${name}-1`, address: '127.0.0.1:9500' }] });
gracefulShutdown({
  registry,
  ...(mode === 'registrations' ? { registrations: [registration] } : {}),
  drainDelay: Number(drain),
  timeout: Number(timeout),
  onSignal: (signal) => say({ step: 'signal', signal }),
  onDrained: () => {
    say({ step: 'drained' });
    server.close();
  },
});
say({ step: 'ready' });
