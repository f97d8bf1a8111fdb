/**
 * The member table at 1,000 and 10,000 members: the lookups every packet makes (by name, by
 * address), an `alive` refresh as gossip delivers it (a newer incarnation, re-broadcast), the next
 * member to probe, and a push/pull merge of a whole remote table (cost per entry). memberlist runs
 * clusters of 10,000 and more; nothing here may grow with N, so the 10,000 / 1,000 ratio of each
 * operation should stay near 1x (linear work per operation shows about 10x), or near the ratio of
 * a bare Map of as many names, which pays the same cache misses.
 */
import { Awareness } from '../../src/adapters/gossip/swim/awareness.js';
import { TransmitLimitedQueue } from '../../src/adapters/gossip/swim/broadcast.js';
import { lan } from '../../src/adapters/gossip/swim/config.js';
import { Members } from '../../src/adapters/gossip/swim/members.js';
import { NodeState, type PushNodeState } from '../../src/adapters/gossip/wire/messages.js';
import { systemClock } from '../../src/internal/clock.js';
import { compare, fmt, report } from '../lib.js';

const OPS = 5_000;
const VSN = new Uint8Array([1, 5, 5, 0, 0, 0]);

const entry = (i: number, incarnation: number): PushNodeState => ({
  name: `member-${i}`,
  addr: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
  port: 7946,
  meta: new Uint8Array(0),
  incarnation,
  state: NodeState.alive,
  vsn: VSN,
});

interface Table {
  members: Members;
  queue: TransmitLimitedQueue;
  remote: PushNodeState[];
  incarnation: number[];
}

function table(size: number): Table {
  const queue = new TransmitLimitedQueue({ retransmitMult: lan.retransmitMult, numNodes: () => size });
  const members = new Members({
    clock: systemClock,
    config: lan,
    local: { name: 'local', addr: new Uint8Array([10, 255, 255, 255]), port: 7946, meta: new Uint8Array(0), vsn: VSN, incarnation: 1 },
    queue,
    awareness: new Awareness(lan.awarenessMaxMultiplier),
    random: () => 0.5,
  });
  const remote = Array.from({ length: size }, (_, i) => entry(i, 1));
  // Learned from a push/pull, as a joining member learns its cluster: confirmed at once.
  members.merge(remote);
  if (members.size !== size + 1) throw new Error(`table holds ${members.size}, expected ${size + 1}`);
  return { members, queue, remote, incarnation: remote.map(() => 1) };
}

export async function run(): Promise<Record<string, number>> {
  const sizes = [1_000, 10_000];
  const tables = new Map(sizes.map((s) => [s, table(s)]));
  // The floor: a bare Map of as many names, which pays the same cache misses at 10,000.
  const bare = new Map(sizes.map((s) => [s, new Map(Array.from({ length: s }, (_, i) => [`member-${i}`, i]))]));
  const of = (size: number) => tables.get(size) as Table;
  let turn = 0;
  const pick = (size: number) => (turn++ * 7919) % size;
  let found = 0;
  const results = await compare(
    sizes.flatMap((size) => [
      {
        name: `lookup by name, ${size}`,
        run: () => {
          const { members } = of(size);
          for (let i = 0; i < OPS; i++) if (members.get(`member-${pick(size)}`)) found++;
          return OPS;
        },
      },
      {
        name: `bare Map lookup (floor), ${size}`,
        run: () => {
          const map = bare.get(size) as Map<string, number>;
          for (let i = 0; i < OPS; i++) if (map.get(`member-${pick(size)}`) !== undefined) found++;
          return OPS;
        },
      },
      {
        name: `lookup by address, ${size}`,
        run: () => {
          const { members, remote } = of(size);
          for (let i = 0; i < OPS; i++) {
            const r = remote[pick(size)] as PushNodeState;
            if (members.atAddress(r.addr, r.port)) found++;
          }
          return OPS;
        },
      },
      {
        name: `alive refresh (newer incarnation), ${size}`,
        run: () => {
          const { members, remote, incarnation } = of(size);
          for (let i = 0; i < OPS; i++) {
            const k = pick(size);
            const r = remote[k] as PushNodeState;
            const inc = (incarnation[k] as number) + 1;
            incarnation[k] = inc;
            members.alive({ incarnation: inc, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn });
          }
          return OPS;
        },
      },
      {
        name: `next to probe, ${size}`,
        run: () => {
          const { members } = of(size);
          for (let i = 0; i < OPS; i++) if (members.nextToProbe()) found++;
          return OPS;
        },
      },
      {
        name: `push/pull merge per entry, ${size}`,
        run: () => {
          const { members, remote } = of(size);
          members.merge(remote);
          return remote.length;
        },
      },
    ]),
    { rounds: 9, warmup: 2 },
  );
  if (found === 0) throw new Error('no lookup found anything');
  const by = new Map(results.map((r) => [r.name, r.nsPerOp]));
  const lines: Array<[string, string]> = results.map((r) => [r.name, fmt.ns(r.nsPerOp)]);
  const ratios: Record<string, number> = {};
  for (const op of [
    'bare Map lookup (floor)',
    'lookup by name',
    'lookup by address',
    'alive refresh (newer incarnation)',
    'next to probe',
    'push/pull merge per entry',
  ]) {
    const ratio = (by.get(`${op}, 10000`) ?? Number.NaN) / (by.get(`${op}, 1000`) ?? Number.NaN);
    ratios[op] = ratio;
    lines.push([`${op}: 10,000 / 1,000`, fmt.ratio(ratio)]);
  }
  for (const t of tables.values()) t.members.stop();
  report('gossip member table (cost per operation must not grow with N)', lines);
  return ratios;
}
