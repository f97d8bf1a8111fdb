/**
 * Child of response-size.test.ts: one getService against the test's HTTP server, reporting what
 * it cost this process at its peak (maxRSS grows monotonically, so nothing between samples hides).
 * Usage: node --import tsx response-size.child.ts <address> <service>
 */
import { createConsulRegistry } from '../../src/adapters/consul/index.js';

const [address, name] = process.argv.slice(2) as [string, string];
const registry = createConsulRegistry({ address, requestTimeout: 60_000 });
// Warm up code paths and the connection on a small answer first.
await registry.getService('warm').catch(() => {});
const before = process.resourceUsage().maxRSS;
let outcome: string;
try {
  const found = await registry.getService(name);
  outcome = `ok ${found.reduce((n, s) => n + s.nodes.length, 0)} nodes`;
} catch (error) {
  outcome = `${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`;
}
const grownKiB = process.resourceUsage().maxRSS - before;
await registry.close();
process.stdout.write(`${JSON.stringify({ outcome, grownKiB })}\n`);
