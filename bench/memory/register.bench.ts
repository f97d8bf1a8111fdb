/**
 * 10,000 live registrations on one registry: the cost of each batch of 1,000 registers (and then
 * `registry.deregister`s) must stay flat as the number of live handles grows. The floor is the first batch.
 */
import { createRegistry, type Registry } from '../../src/index.js';
import { fmt, report } from '../lib.js';

const TOTAL = Number(process.env.REGISTER_BENCH_N ?? 10_000);
const BATCH = 1_000;

type Shape = (i: number) => { name: string; nodes: { id: string; address: string }[] };

/** Distinct services, one node each (a sidecar announcing many things). */
const distinct: Shape = (i) => ({ name: `svc-${i}`, nodes: [{ id: `svc-${i}-0`, address: `10.1.${(i >> 8) & 255}.${i & 255}:8080` }] });
/** One service, one more node per registration (a large pool of one service). */
const onePool: Shape = (i) => ({ name: 'pool', nodes: [{ id: `pool-${i}`, address: `10.2.${(i >> 8) & 255}.${i & 255}:8080` }] });

async function curve(shape: Shape): Promise<{ register: number[]; deregister: number[] }> {
  const registry: Registry = await createRegistry({ kind: 'memory', keepAlive: false });
  const register: number[] = [];
  const deregister: number[] = [];
  for (let start = 0; start < TOTAL; start += BATCH) {
    const began = process.hrtime.bigint();
    for (let i = start; i < start + BATCH; i++) await registry.register(shape(i));
    register.push(Number(process.hrtime.bigint() - began) / BATCH);
  }
  for (let start = 0; start < TOTAL; start += BATCH) {
    const began = process.hrtime.bigint();
    for (let i = start; i < start + BATCH; i++) await registry.deregister(shape(i));
    deregister.push(Number(process.hrtime.bigint() - began) / BATCH);
  }
  await registry.close();
  return { register, deregister };
}

/** Median of the first three batches against the median of the last three: noise-tolerant flatness. */
function growth(ns: number[]): number {
  const mid = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  return mid(ns.slice(-3)) / mid(ns.slice(0, 3));
}

function line(label: string, ns: number[], target: boolean): [string, string] {
  return [label, `${ns.map((n) => fmt.ns(n)).join(' ')}  last/first = ${fmt.ratio(growth(ns))}${target ? ' (target <= 2x)' : ''}`];
}

export async function run(): Promise<{ registerRatio: number; poolRatio: number }> {
  // A warm-up pass so the first batch is not also the JIT's.
  await curve(distinct);
  const a = await curve(distinct);
  const b = await curve(onePool);
  report(`memory: ${TOTAL.toLocaleString('en')} registrations on one registry, per call in batches of ${BATCH}`, [
    line('register, distinct services', a.register, true),
    line('deregister, distinct services', a.deregister, true),
    // Each change publishes a new frozen snapshot of the service: O(nodes of that service) per call.
    line('register, nodes of one service', b.register, false),
    line('deregister, nodes of one service', b.deregister, false),
  ]);
  return { registerRatio: growth(a.register), poolRatio: growth(b.register) };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
