/**
 * The broadcast queue at 1,000 and 10,000 queued members: enqueue with invalidation (a newer
 * broadcast about a queued node) and one packet's take, cost per operation printed for both sizes.
 * SWIM's promise is that the cost per member does not grow with the cluster: the ratio between the
 * two sizes should stay near 1x (a quadratic queue shows about 10x).
 */
import { type Broadcast, TransmitLimitedQueue } from '../../src/adapters/gossip/swim/broadcast.js';
import { compare, fmt, report } from '../lib.js';

const OPS = 2_000;

function filled(size: number): { queue: TransmitLimitedQueue; messages: Broadcast[] } {
  const queue = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => size });
  const messages: Broadcast[] = [];
  for (let i = 0; i < size; i++) {
    // Alive messages vary in length a little, as node names do.
    const b: Broadcast = { message: new Uint8Array(60 + (i % 40)), name: `node:m-${i}` };
    messages.push(b);
    queue.queue(b);
  }
  return { queue, messages };
}

export async function run(): Promise<Record<string, number>> {
  const sizes = [1_000, 10_000];
  const state = new Map(sizes.map((s) => [s, filled(s)]));
  let turn = 0;
  const results = await compare(
    sizes.flatMap((size) => [
      {
        name: `enqueue + invalidate, ${size} queued`,
        run: () => {
          const { queue, messages } = state.get(size) as ReturnType<typeof filled>;
          for (let i = 0; i < OPS; i++) {
            const old = messages[(turn++ * 7919) % size] as Broadcast;
            queue.queue({ message: old.message, name: old.name });
          }
          return OPS;
        },
      },
      {
        name: `take one packet, ${size} queued`,
        run: () => {
          const { queue, messages } = state.get(size) as ReturnType<typeof filled>;
          for (let i = 0; i < OPS; i++) {
            for (const m of queue.take(2, 1400)) void m;
            // Keep the queue at its size: put back as many as a packet took.
            while (queue.size < size) {
              const b = messages[(turn++ * 7919) % size] as Broadcast;
              queue.queue({ message: b.message, name: b.name });
            }
          }
          return OPS;
        },
      },
    ]),
    { rounds: 9, warmup: 2 },
  );
  const by = new Map(results.map((r) => [r.name, r.nsPerOp]));
  const lines: Array<[string, string]> = results.map((r) => [r.name, fmt.ns(r.nsPerOp)]);
  const enqueueRatio = (by.get('enqueue + invalidate, 10000 queued') ?? 0) / (by.get('enqueue + invalidate, 1000 queued') ?? 1);
  const takeRatio = (by.get('take one packet, 10000 queued') ?? 0) / (by.get('take one packet, 1000 queued') ?? 1);
  lines.push(['enqueue: 10,000 / 1,000', fmt.ratio(enqueueRatio)], ['take: 10,000 / 1,000', fmt.ratio(takeRatio)]);
  report('gossip broadcast queue (cost per operation must not grow with N)', lines);
  return { enqueueRatio, takeRatio };
}
