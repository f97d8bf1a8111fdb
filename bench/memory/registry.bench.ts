/**
 * Memory adapter: getService and listServices against an awaited Map.get floor (the same async
 * shape), and the fan-out of one change to 1,000 watchers.
 */
import { createRegistry, type Registry } from '../../src/index.js';
import { compare, fmt, median, quantile, report } from '../lib.js';

const BATCH = 20_000;

export async function run(): Promise<{ getServiceRatio: number; fanoutP50Ms: number }> {
  const registry = await createRegistry({ kind: 'memory' });
  for (let i = 0; i < 200; i++) {
    await registry.register({
      name: `svc-${i}`,
      version: '1.0.0',
      nodes: [0, 1, 2].map((n) => ({ id: `svc-${i}-${n}`, address: `10.0.${i % 250}.${n + 1}:8080`, metadata: { protocol: 'http' } })),
    });
  }
  const floorMap = new Map<string, readonly unknown[]>();
  for (let i = 0; i < 200; i++) floorMap.set(`svc-${i}`, Object.freeze([{ name: `svc-${i}` }]));
  const floorGet = async (name: string) => floorMap.get(name);

  const results = await compare([
    {
      name: 'floor: await Map.get',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await floorGet(`svc-${i % 200}`);
        return BATCH;
      },
    },
    {
      name: 'getService',
      run: async () => {
        for (let i = 0; i < BATCH; i++) await registry.getService(`svc-${i % 200}`);
        return BATCH;
      },
    },
    {
      name: 'listServices (200 services)',
      run: async () => {
        for (let i = 0; i < 200; i++) await registry.listServices();
        return 200;
      },
    },
  ]);
  const [floor, get, list] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
  const getServiceRatio = get.nsPerOp / floor.nsPerOp;
  report('memory: reads', [
    ['await Map.get (floor)', fmt.ns(floor.nsPerOp)],
    ['getService', `${fmt.ns(get.nsPerOp)}  = ${fmt.ratio(getServiceRatio)} the floor (target <= 2x)`],
    ['listServices, 200 services', fmt.ns(list.nsPerOp)],
  ]);

  const fanout = await fanOut(registry, 1_000, 30);
  report('memory: fan-out of one change to 1,000 watchers', [
    ['p50 register -> last watcher has the event', `${fanout.p50.toFixed(3)} ms (target < 1 ms)`],
    ['p99', `${fanout.p99.toFixed(3)} ms`],
  ]);
  await registry.close();
  return { getServiceRatio, fanoutP50Ms: fanout.p50 };
}

async function fanOut(registry: Registry, watchers: number, rounds: number): Promise<{ p50: number; p99: number }> {
  const iterators = Array.from({ length: watchers }, () => registry.watch({ service: 'fanout' }));
  await Promise.all(iterators.map((w) => w.synced));
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const waits = iterators.map((w) => w.next());
    const start = performance.now();
    const reg = await registry.register({ name: 'fanout', nodes: [{ id: `f-${round}`, address: '10.9.9.9:1' }] });
    await Promise.all(waits);
    times.push(performance.now() - start);
    const gone = iterators.map((w) => w.next());
    await reg.deregister();
    await Promise.all(gone);
  }
  for (const w of iterators) w.stop();
  return { p50: median(times), p99: quantile(times, 0.99) };
}
