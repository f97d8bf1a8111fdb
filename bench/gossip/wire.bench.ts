/**
 * The gossip wire codecs against @msgpack/msgpack, the npm msgpack library rollcall considered and
 * rejected (its encoder writes str8 and bin where Go writes raw, so its bytes differ from Go's;
 * see src/adapters/gossip/wire/msgpack.ts). Both sides handle the same messages: a compound of
 * alive messages (what gossip packets carry) and a push/pull of 100 nodes (join and anti-entropy).
 * The library decodes with `rawStrings` so Addr, Meta and Vsn stay bytes, then names become text,
 * which is the least it must do to be usable; its encoder is given the same objects.
 */
import { decodeCompound, encodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import {
  type Alive,
  decodeAlive,
  decodePushPull,
  encodeAlive,
  encodePushPull,
  type PushNodeState,
} from '../../src/adapters/gossip/wire/messages.js';
import { compare, fmt, report } from '../lib.js';

/** The part of @msgpack/msgpack used here, typed locally so type checks pass before `npm install` adds it. */
interface MsgpackLib {
  decode(buf: Uint8Array, options: { rawStrings: boolean }): unknown;
  decodeMulti(buf: Uint8Array, options: { rawStrings: boolean }): Iterable<unknown>;
  Encoder: new () => { encode(value: unknown): Uint8Array };
}
const libName = '@msgpack/msgpack';
const lib = (await import(libName)) as MsgpackLib;
const mpDecode = lib.decode;
const mpDecodeMulti = lib.decodeMulti;

const BATCH = 200;
const text = new TextDecoder();
const mpEncoder = new lib.Encoder();

function alives(n: number): Alive[] {
  return Array.from({ length: n }, (_, i) => ({
    incarnation: 1000 + i,
    node: `node-${i.toString(16).padStart(4, '0')}.dc1`,
    addr: Uint8Array.of(10, 0, i >> 8, i & 0xff),
    port: 7946,
    meta: Uint8Array.from(Buffer.from(`\xffrole=web,zone=z${i % 3}`, 'latin1')),
    vsn: Uint8Array.of(1, 5, 2, 2, 5, 4),
  }));
}

function pushNodes(n: number): PushNodeState[] {
  return alives(n).map((a, i) => ({
    name: a.node,
    addr: a.addr,
    port: a.port,
    meta: a.meta,
    incarnation: a.incarnation,
    state: i % 4,
    vsn: a.vsn,
  }));
}

/** The Go-keyed object the library is given for one alive. */
const goAlive = (a: Alive) => ({ Addr: a.addr, Incarnation: a.incarnation, Meta: a.meta, Node: a.node, Port: a.port, Vsn: a.vsn });

function mpAliveCompound(list: Alive[]): Uint8Array {
  return encodeCompound(list.map((a) => Uint8Array.of(4, ...mpEncoder.encode(goAlive(a)))));
}

function mpReadAlive(body: Uint8Array): Alive {
  const o = mpDecode(body, { rawStrings: true }) as Record<string, Uint8Array | number>;
  return {
    incarnation: o.Incarnation as number,
    node: text.decode(o.Node as Uint8Array),
    addr: o.Addr as Uint8Array,
    port: o.Port as number,
    meta: (o.Meta as Uint8Array) ?? new Uint8Array(0),
    vsn: o.Vsn as Uint8Array,
  };
}

function mpPushPull(nodes: PushNodeState[]): Uint8Array {
  const parts = [
    mpEncoder.encode({ Join: false, Nodes: nodes.length, UserStateLen: 0 }),
    ...nodes.map((n) =>
      mpEncoder.encode({ Addr: n.addr, Incarnation: n.incarnation, Meta: n.meta, Name: n.name, Port: n.port, State: n.state, Vsn: n.vsn }),
    ),
  ];
  return Buffer.concat([Uint8Array.of(6), ...parts]);
}

function mpReadPushPull(body: Uint8Array): PushNodeState[] {
  const nodes: PushNodeState[] = [];
  let header = true;
  for (const v of mpDecodeMulti(body, { rawStrings: true })) {
    if (header) {
      header = false;
      continue;
    }
    const o = v as Record<string, Uint8Array | number>;
    nodes.push({
      name: text.decode(o.Name as Uint8Array),
      addr: o.Addr as Uint8Array,
      port: o.Port as number,
      meta: (o.Meta as Uint8Array) ?? new Uint8Array(0),
      incarnation: o.Incarnation as number,
      state: o.State as number,
      vsn: o.Vsn as Uint8Array,
    });
  }
  return nodes;
}

export async function run(): Promise<Record<string, number>> {
  const compoundAlives = alives(20);
  const nodes = pushNodes(100);
  const ourCompound = encodeCompound(compoundAlives.map(encodeAlive));
  const ourPushPull = encodePushPull({ join: false, nodes, userState: new Uint8Array(0) });
  // Sanity: the library reads our (Go's) bytes to the same values, so both sides do the same work.
  const check = mpReadAlive(decodeCompound(ourCompound.subarray(1)).parts[0]!.subarray(1));
  if (check.node !== compoundAlives[0]!.node) throw new Error('library decode disagrees');
  if (mpReadPushPull(ourPushPull.subarray(1)).length !== 100) throw new Error('library push/pull decode disagrees');

  const sink: unknown[] = [];
  const cases = [
    { name: 'compound of 20 alive: encode (rollcall)', run: () => batch(() => encodeCompound(compoundAlives.map(encodeAlive))) },
    { name: 'compound of 20 alive: encode (@msgpack/msgpack)', run: () => batch(() => mpAliveCompound(compoundAlives)) },
    {
      name: 'compound of 20 alive: decode (rollcall)',
      run: () => batch(() => decodeCompound(ourCompound.subarray(1)).parts.map((p) => decodeAlive(p.subarray(1)))),
    },
    {
      name: 'compound of 20 alive: decode (@msgpack/msgpack)',
      run: () => batch(() => decodeCompound(ourCompound.subarray(1)).parts.map((p) => mpReadAlive(p.subarray(1)))),
    },
    {
      name: 'push/pull of 100 nodes: encode (rollcall)',
      run: () => batch(() => encodePushPull({ join: false, nodes, userState: new Uint8Array(0) })),
    },
    { name: 'push/pull of 100 nodes: encode (@msgpack/msgpack)', run: () => batch(() => mpPushPull(nodes)) },
    { name: 'push/pull of 100 nodes: decode (rollcall)', run: () => batch(() => decodePushPull(ourPushPull.subarray(1))) },
    { name: 'push/pull of 100 nodes: decode (@msgpack/msgpack)', run: () => batch(() => mpReadPushPull(ourPushPull.subarray(1))) },
  ];
  function batch(f: () => unknown): number {
    for (let i = 0; i < BATCH; i++) sink[i & 7] = f();
    return BATCH;
  }
  const results = await compare(cases, { rounds: 15, warmup: 3 });
  const by = new Map(results.map((r) => [r.name, r.nsPerOp]));
  const lines: Array<[string, string]> = results.map((r) => [r.name, fmt.ns(r.nsPerOp)]);
  const out: Record<string, number> = {};
  for (const what of [
    'compound of 20 alive: encode',
    'compound of 20 alive: decode',
    'push/pull of 100 nodes: encode',
    'push/pull of 100 nodes: decode',
  ]) {
    const ratio = (by.get(`${what} (@msgpack/msgpack)`) as number) / (by.get(`${what} (rollcall)`) as number);
    out[what] = ratio;
    lines.push([`${what}: library / rollcall`, fmt.ratio(ratio)]);
  }
  report('gossip wire codecs: rollcall vs @msgpack/msgpack (library bytes differ from Go; rollcall matches Go)', lines);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
