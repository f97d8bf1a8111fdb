/**
 * A greeter client: finds the greeter service through a watch-driven cache and selector and calls
 * it a few times, spreading the calls over every instance it finds and avoiding one that fails.
 *
 *   npx tsx examples/greeter-client.ts [calls]
 *
 * With no configuration it discovers over mDNS, so it finds a greeter (examples/greeter.ts) on any
 * machine of the LAN; `ROLLCALL_REGISTRY=consul://10.0.0.2:8500` makes both use Consul instead.
 * It waits up to 10 s for a greeter to appear, then exits 0, or 1 when none did.
 */
import { createRegistry, isRollcallError, type Node, withCache } from '../src/index.js';

async function main(calls: number): Promise<number> {
  // A watch-driven cache: the first lookup opens a watch, later ones are answered from memory.
  const registry = withCache(await createRegistry());
  try {
    const selector = registry.selector({ strategy: 'round-robin' });
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < calls; ) {
      let node: Node;
      try {
        node = await selector.select('greeter', { timeout: 2_000 });
      } catch (error) {
        // Not (yet) there: a server that just started is still announcing itself.
        if (!isRollcallError(error, 'NOT_FOUND') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      try {
        const res = await fetch(`http://${node.address}/hello?name=client`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as { greeting: string; from: string };
        console.log(`${body.greeting} from ${body.from} at ${node.address}`);
        i++;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        selector.mark('greeter', node); // try another instance for a while
      }
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
