/**
 * A greeter client: finds the greeter service through the registry and calls it a few times,
 * spreading the calls over every instance it finds.
 *
 *   npx tsx examples/greeter-client.ts [calls]
 *
 * With no configuration it discovers over mDNS, so it finds a greeter (examples/greeter.ts) on any
 * machine of the LAN; `ROLLCALL_REGISTRY=consul://10.0.0.2:8500` makes both use Consul instead.
 * It waits up to 10 s for a greeter to appear, then exits 0, or 1 when none did.
 */
import { createRegistry, createSelector, isRollcallError, type Service } from '../src/index.js';

async function main(calls: number): Promise<number> {
  const registry = await createRegistry();
  try {
    const pick = createSelector({ strategy: 'round-robin' });
    const deadline = Date.now() + 10_000;
    let services: readonly Service[] | undefined;
    while (!services) {
      try {
        services = await registry.getService('greeter', { timeout: 1_000 });
      } catch (error) {
        if (!isRollcallError(error, 'NOT_FOUND') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (let i = 0; i < calls; i++) {
      const node = pick(await registry.getService('greeter'));
      const res = await fetch(`http://${node.address}/hello?name=client`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { greeting: string; from: string };
      console.log(`${body.greeting} from ${body.from} at ${node.address}`);
    }
    return 0;
  } finally {
    await registry.close();
  }
}

main(Number(process.argv[2] ?? 3)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(isRollcallError(error, 'NOT_FOUND') ? 1 : 3);
  },
);
