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

function line(label: string, ns: number[]): [string, string] {
  const first = ns[0] ?? Number.NaN;
  const last = ns[ns.length - 1] ?? Number.NaN;
  return [label, `${ns.map((n) => fmt.ns(n)).join(' ')}  last/first = ${fmt.ratio(last / first)} (target <= 2x)`];
}

export async function run(): Promise<{ registerRatio: number; poolRatio: number }> {
  // A warm-up pass so the first batch is not also the JIT's.
  await curve(distinct);
  const a = await curve(distinct);
  const b = await curve(onePool);
  report(`memory: ${TOTAL.toLocaleString('en')} registrations on one registry, per call in batches of ${BATCH}`, [
    line('register, distinct services', a.register),
    line('deregister, distinct services', a.deregister),
    line('register, nodes of one service', b.register),
    line('deregister, nodes of one service', b.deregister),
  ]);
  const ratio = (ns: number[]) => (ns[ns.length - 1] ?? 0) / (ns[0] ?? 1);
  return { registerRatio: ratio(a.register), poolRatio: ratio(b.register) };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
