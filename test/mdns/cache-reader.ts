/**
 * Runs inside a LAN host for cache-reads.test.ts: an mdns registry in this very process, so the
 * objects getService returns can be inspected (frozen, shared) and timed, and the registry's
 * behaviour after close() observed first-hand. Prints one JSON line with what it found.
 */
import { performance } from 'node:perf_hooks';
import { createRegistry, isRollcallError, type Service } from '../../src/index.js';

function deepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

async function main(): Promise<void> {
  const name = process.env.READER_SERVICE ?? 'cached';
  const registry = await createRegistry({ kind: 'mdns' });
  const coldStart = performance.now();
  const cold = await registry.getService(name, { timeout: 2000 });
  const coldMs = performance.now() - coldStart;
  const missingStart = performance.now();
  const missing = await registry.getService('no-such-service', { timeout: 2000 }).catch((e: unknown) => e);
  const missingMs = performance.now() - missingStart;
  const first = await registry.getService(name);
  const second = await registry.getService(name);
  const rounds = 20_000;
  const floor = new Map<string, readonly Service[]>([[name, first]]);
  const floorGet = async (n: string) => floor.get(n);
  let warmNs = Number.POSITIVE_INFINITY;
  let floorNs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await registry.getService(name);
    warmNs = Math.min(warmNs, Number(process.hrtime.bigint() - t) / rounds);
    t = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await floorGet(name);
    floorNs = Math.min(floorNs, Number(process.hrtime.bigint() - t) / rounds);
  }
  await registry.close();
  const closedErrors = await Promise.all([
    // Some of these throw synchronously (as the core's CLOSED check does), some reject: catch both.
    Promise.resolve()
      .then(() => registry.getService(name))
      .catch((e: unknown) => e),
    Promise.resolve()
      .then(() => registry.register({ name, nodes: [{ address: '10.0.0.1:1' }] }))
      .catch((e: unknown) => e),
    Promise.resolve()
      .then(() => registry.listServices())
      .catch((e: unknown) => e),
    Promise.resolve()
      .then(() => registry.watch())
      .catch((e: unknown) => e),
  ]);
  process.stdout.write(
    `${JSON.stringify({
      coldMs,
      coldNodes: cold[0]?.nodes.length,
      missingMs,
      missingCode: (missing as { code?: string }).code,
      frozen: deepFrozen(first),
      sameObject: first === second,
      warmNs,
      floorNs,
      closed: closedErrors.map((e) => isRollcallError(e, 'CLOSED')),
    })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${String(error?.stack ?? error)}\n`);
  process.exit(1);
});
