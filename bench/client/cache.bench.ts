/**
 * Client-side discovery: a cached lookup and a selector pick against an awaited `Map.get` floor
 * (the same async shape) on the memory adapter; then, on a real Consul agent behind a counting
 * HTTP proxy, 1,000 picks through the cache against 1,000 plain `getService` calls: requests that
 * reached the agent and time, side by side.
 */
import { createRegistry, type Registry, withCache } from '../../src/index.js';
import { startCountingProxy } from '../../test/client/http-proxy.js';
import { startDevAgent } from '../../test/peers/consul.js';
import { compare, fmt, report } from '../lib.js';

const BATCH = 20_000;
const SERVICES = 200;
const CONSUL_CALLS = 1_000;

export interface ClientBenchResult {
  lookupRatio: number;
  pickRatio: number;
  roundRobinRatio: number;
}

export async function run(): Promise<ClientBenchResult> {
  const result = await memoryReads();
  await consulRequests();
  return result;
}

async function memoryReads(): Promise<ClientBenchResult> {
  const cache = withCache(await createRegistry({ kind: 'memory' }));
  for (let i = 0; i < SERVICES; i++) {
    await cache.register({
      name: `svc-${i}`,
      version: '1.0.0',
      nodes: [0, 1, 2].map((n) => ({
        id: `svc-${i}-${n}`,
        address: `10.0.${i % 250}.${n + 1}:8080`,
        metadata: { zone: n % 2 ? 'a' : 'b' },
      })),
    });
  }
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
  // Warm: every name has its watch and its copy.
  for (const name of names) await cache.getService(name);
  const floorMap = new Map<string, readonly unknown[]>(names.map((n) => [n, Object.freeze([{ name: n }])]));
  const floorGet = async (name: string) => floorMap.get(name);
  const random = cache.selector();
  const roundRobin = cache.selector({ strategy: 'round-robin' });
  const filteredSelector = cache.selector({ version: '^1', metadata: { zone: 'a' } });

  const results = await compare([
    {
      name: 'floor',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await floorGet(names[i % SERVICES] as string);
        return BATCH;
      },
    },
    {
      name: 'lookup',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await cache.getService(names[i % SERVICES] as string);
        return BATCH;
      },
    },
    {
      name: 'pick',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await random.select(names[i % SERVICES] as string);
        return BATCH;
      },
    },
    {
      name: 'round-robin',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await roundRobin.select(names[i % SERVICES] as string);
        return BATCH;
      },
    },
    {
      name: 'filtered',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await filteredSelector.select(names[i % SERVICES] as string);
        return BATCH;
      },
    },
  ]);
  const [floor, lookup, pick, rr, filtered] = results as [
    (typeof results)[0],
    (typeof results)[0],
    (typeof results)[0],
    (typeof results)[0],
    (typeof results)[0],
  ];
  const ratio = (r: (typeof results)[0]) => r.nsPerOp / floor.nsPerOp;
  report('client: cached reads on memory (200 services, 3 nodes each)', [
    ['await Map.get (floor)', fmt.ns(floor.nsPerOp)],
    ['cache.getService', `${fmt.ns(lookup.nsPerOp)}  = ${fmt.ratio(ratio(lookup))} the floor (target <= 2x)`],
    ['selector.select, random', `${fmt.ns(pick.nsPerOp)}  = ${fmt.ratio(ratio(pick))} the floor (target <= 2x)`],
    ['selector.select, round-robin', `${fmt.ns(rr.nsPerOp)}  = ${fmt.ratio(ratio(rr))} the floor (target <= 2x)`],
    ['selector with version range + metadata', `${fmt.ns(filtered.nsPerOp)}  = ${fmt.ratio(ratio(filtered))} the floor`],
  ]);
  await cache.close();
  return { lookupRatio: ratio(lookup), pickRatio: ratio(pick), roundRobinRatio: ratio(rr) };
}

async function consulRequests(): Promise<void> {
  const agent = await startDevAgent();
  const proxy = await startCountingProxy(agent.address);
  const registries: Registry[] = [];
  try {
    const owner = await createRegistry({ kind: 'consul', address: agent.address });
    registries.push(owner);
    await owner.register({
      name: 'greeter',
      version: '1.0.0',
      nodes: [0, 1, 2].map((n) => ({ id: `greeter-${n}`, address: `127.0.0.1:${9600 + n}` })),
    });
    const plain = await createRegistry({ kind: 'consul', address: proxy.address });
    const cache = withCache(await createRegistry({ kind: 'consul', address: proxy.address }));
    registries.push(plain, cache);
    const selector = cache.selector({ strategy: 'round-robin' });

    const measure = async (what: () => Promise<unknown>) => {
      const before = proxy.requests.length;
      const t0 = performance.now();
      await what();
      return { ms: performance.now() - t0, requests: proxy.requests.length - before };
    };
    const sequential = (fn: () => Promise<unknown>) => async () => {
      for (let i = 0; i < CONSUL_CALLS; i++) await fn();
    };
    const concurrent = (fn: () => Promise<unknown>) => () => Promise.all(Array.from({ length: CONSUL_CALLS }, fn));

    // Cold first: the cache's first picks share one watch.
    const pickConcurrent = await measure(concurrent(() => selector.select('greeter')));
    const pickSequential = await measure(sequential(() => selector.select('greeter')));
    const plainSequential = await measure(sequential(() => plain.getService('greeter')));
    const plainConcurrent = await measure(concurrent(() => plain.getService('greeter')));
    const line = (m: { ms: number; requests: number }) => `${m.requests} requests to the agent, ${m.ms.toFixed(1)} ms`;
    report(`client: ${CONSUL_CALLS} lookups on a real Consul agent (counted by an HTTP proxy)`, [
      ['cache picks, concurrent, cold', line(pickConcurrent)],
      ['cache picks, one after another, warm', line(pickSequential)],
      ['plain getService, one after another', line(plainSequential)],
      ['plain getService, concurrent', line(plainConcurrent)],
      ['time, plain / cache (sequential)', fmt.ratio(plainSequential.ms / pickSequential.ms)],
    ]);
  } finally {
    await Promise.allSettled(registries.map((r) => r.close()));
    await proxy.close();
    await agent.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
