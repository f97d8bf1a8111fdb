/**
 * One gossip registry in its own process for the propagation benchmark, lighter than the test
 * harness's child: it watches every service and reports each `create` with its own wall-clock
 * receipt time, so the parent's scheduling adds nothing to the measurement. Run as
 * `node --import tsx bench/gossip/propagation-node.ts <name> <bind> [seed host:port]`.
 * Writes `{ ready, address }`, then `{ created, at }` per service seen and `{ registered, at }`
 * (when the call began) per registration, `{ alive }` (live members, itself included) per `{ members: true }`;
 * reads those, `{ register: service }` and `{ close: true }` lines.
 */
import { createInterface } from 'node:readline';
import { createGossipRegistry } from '../../src/adapters/gossip/index.js';
import type { ServiceInput } from '../../src/index.js';

const [name = 'rc', bind = '127.0.0.1', seed] = process.argv.slice(2);
/** Wall clock with sub-millisecond precision, comparable across processes on one host. */
const now = () => performance.timeOrigin + performance.now();
const out = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

const registry = await createGossipRegistry({ name, bind, port: 0, preset: 'lan', ...(seed ? { address: seed } : {}) });
const { port } = (registry as unknown as { address: { port: number } }).address;
void (async () => {
  for await (const event of registry.watch()) {
    if (event.type === 'create') out({ created: event.service.name, at: now() });
  }
})();

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { register?: ServiceInput; members?: boolean; close?: boolean };
  if (command.members) void registry.members?.().then((all) => out({ alive: all.filter((m) => m.status === 'alive').length }));
  if (command.register) {
    const at = now();
    // Long enough that no heartbeat falls inside a measurement window (heartbeats run at ttl / 3).
    void registry.register(command.register, { ttl: 3_600_000 }).then(() => out({ registered: command.register?.name, at }));
  }
  if (command.close) void registry.close().then(() => process.exit(0));
});
out({ ready: true, address: `${bind}:${port}` });
