/**
 * The gossip registry's receive path under bad and hostile input, on the in-memory network and a
 * simulated clock. Each kind of bad update (malformed protobuf, data that is not a Service, an
 * oversized Service, an update from a dead origin) is dropped and counted by its own counter, and
 * nothing else is lost. fast-check then sends whole user messages, compounds of them and user
 * streams (random bytes, honest updates mutated, well-formed updates with random fields and
 * JSON) into a running registry: every one reaches the receive path, nothing escapes, the hold
 * stays bounded and the registry keeps working. Last, a hostile flood costs bounded CPU and memory
 * against an honest one of the same count in the same test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { RegistryMessage } from '../../src/adapters/gossip/registry/message.js';
import type { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { encodeUpdate } from '../../src/adapters/gossip/registry/update.js';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { encodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import { encodeUserPacket, NodeState } from '../../src/adapters/gossip/wire/messages.js';
import { forged, type SimRegistries, simRegistries } from './registry-sim.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const stat = (r: GossipRegistry, key: string) => Number(r.stats()[key]);
const has = (r: GossipRegistry, name: string) =>
  r.getService(name).then(
    (s) => s.length > 0,
    () => false,
  );

/** m0 registers `greeter`; m1 is the target; m2 a member that registers nothing; m3 is crashed and dead. */
async function setup(): Promise<SimRegistries & { a: GossipRegistry; b: GossipRegistry; quiet: GossipRegistry; dead: GossipRegistry }> {
  const sim = await simRegistries(4);
  const [a, b, quiet, dead] = sim.registries as [GossipRegistry, GossipRegistry, GossipRegistry, GossipRegistry];
  let done = false;
  void a.register({ name: 'greeter', nodes: [{ id: 'g1', address: '10.0.0.1:80' }] }, { ttl: 600_000 }).then(() => {
    done = true;
  });
  assert.ok(await sim.until(async () => done && (await has(b, 'greeter')), 2_000), 'greeter reached b');
  await dead.crash();
  // Simulated time, so the bound costs nothing: b probes m3 within a round of its 3 peers (each
  // probe interval stretched up to 3x by awareness as probes of m3 fail), and the suspicion may run
  // to its maximum when no other member's confirmation reaches b.
  const detection =
    3 * 3 * local.probeInterval + local.suspicionMaxTimeoutMult * suspicionTimeout(local.suspicionMult, 4, local.probeInterval) + 5_000;
  assert.ok(await sim.until(() => b.swim.members.get(dead.memberName)?.state === NodeState.dead, detection, 100), 'b declared m3 dead');
  return { ...sim, a, b, quiet, dead };
}

/** Runs the simulated clock until `promise` settles (a stream needs the clock to move). */
async function settle(sim: SimRegistries, promise: Promise<unknown>): Promise<void> {
  let done = false;
  void promise
    .catch(() => {})
    .finally(() => {
      done = true;
    });
  await sim.clock.runUntil(() => done, 5_000);
}

const COUNTERS = ['badUpdates', 'badServices', 'oversizedUpdates', 'deadOriginUpdates'] as const;

describe('gossip registry receive path: bad input', () => {
  it('each kind of bad update is dropped and counted by its own counter; nothing else is lost', async () => {
    const sim = await setup();
    const { a, b, quiet, dead } = sim;
    const counts = () => Object.fromEntries([...COUNTERS, 'dropped'].map((k) => [k, stat(b, k)]));
    const expect = async (send: () => Promise<void>, counter: (typeof COUNTERS)[number]) => {
      const before = counts();
      await send();
      await sim.clock.runFor(100);
      const after = counts();
      for (const k of COUNTERS) assert.equal(after[k]! - before[k]!, k === counter ? 1 : 0, `${counter}: ${k}`);
      assert.equal(after.dropped! - before.dropped!, 1, `${counter}: one drop`);
    };
    await expect(() => sim.send(a, b, Uint8Array.of(0x3a, 0x50, 1)), 'badUpdates');
    await expect(() => sim.send(a, b, forged(quiet.memberName, 1, 'x', { data: new TextEncoder().encode('{"name":42}') })), 'badServices');
    await expect(() => sim.send(a, b, forged(quiet.memberName, 2, 'x', { data: new TextEncoder().encode('[[[[[[') })), 'badServices');
    // 70 KB of Service JSON: over the 64 KB a node may take, so it must come over a stream.
    const endpoints = Array.from({ length: 200 }, (_, i) => ({
      name: `E${i}`,
      request: null,
      response: null,
      metadata: { k: 'v'.repeat(330) },
    }));
    const big = { name: 'big', version: '1', metadata: {}, endpoints, nodes: [{ id: 'b1', address: '10.0.0.9:80', metadata: {} }] };
    const bigData = new TextEncoder().encode(JSON.stringify(big));
    assert.ok(bigData.length > 64 * 1024);
    await expect(
      () => settle(sim, a.swim.net.sendUserStream(b.address, forged(quiet.memberName, 3, 'b1', { data: bigData }))),
      'oversizedUpdates',
    );
    await expect(() => sim.send(a, b, forged(dead.memberName, 9_999_999, 'zombie')), 'deadOriginUpdates');
    assert.equal(b.swim.net.stats.dropped.handler, 0, 'nothing was thrown');
    // Nothing else lost: the old registration is there, and a new one still arrives.
    assert.ok(await has(b, 'greeter'));
    assert.equal(await has(b, 'big'), false);
    let done = false;
    void a.register({ name: 'after', nodes: [{ id: 'n', address: '10.0.0.1:81' }] }).then(() => {
      done = true;
    });
    assert.ok(await sim.until(async () => done && (await has(b, 'after')), 2_000), 'a later registration arrives');
    await sim.close();
  });
});

/** A well-formed or almost well-formed Update with random fields. */
const randomUpdate = (origins: string[]) =>
  fc
    .record({
      origin: fc.option(fc.oneof(fc.constantFrom(...origins), fc.string({ minLength: 1, maxLength: 40 })), { nil: undefined }),
      seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
      prev: fc.option(fc.nat(), { nil: undefined }),
      incarnation: fc.option(fc.nat(), { nil: undefined }),
      ttl: fc.nat({ max: 2 ** 31 - 1 }),
      action: fc.constantFrom<RegistryMessage['action']>('create', 'delete', 'update', 'sync'),
      data: fc.oneof(
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
        fc
          .record({
            name: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('svc')),
            version: fc.string({ maxLength: 8 }),
            nodes: fc.array(
              fc.record({
                id: fc.string({ maxLength: 12 }),
                address: fc.oneof(fc.constant('10.0.0.5:80'), fc.string({ maxLength: 20 })),
                metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
              }),
              { maxLength: 3 },
            ),
          })
          .map((v) => JSON.stringify(v)),
      ),
    })
    .map(({ data, origin, ...m }) => forged(origin ?? '', m.seq, 'n', { ...m, origin, data: new TextEncoder().encode(data) }));

/** Protobuf with random fields of every wire type, metadata included. */
const randomProtobuf = fc
  .record({
    expires: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    type: fc.integer({ min: -5, max: 5 }),
    action: fc.integer({ min: -5, max: 9 }),
    metadata: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 8 }),
    data: fc.uint8Array({ maxLength: 600 }),
  })
  .map((u) => encodeUpdate(u));

describe('gossip registry receive path: fuzzed', () => {
  it('whole user messages, compounds and streams: each reaches the receive path, nothing escapes, the registry keeps working', async () => {
    const sim = await setup();
    const { a, b, quiet, dead } = sim;
    const honest = forged(quiet.memberName, 50, 'h');
    const origins = [quiet.memberName, dead.memberName, a.memberName, 'ghost'];
    const payload = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 1_200 }),
      randomUpdate(origins),
      randomProtobuf,
      // An honest update with bytes flipped, cut or spliced.
      fc
        .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), fc.uint8Array({ maxLength: 40 }))
        .map(([flips, cut, splice]) => {
          const copy = Uint8Array.from(honest);
          for (const [at, v] of flips) copy[at % copy.length] = v;
          const end = cut % (copy.length + 1);
          return Uint8Array.from([...copy.subarray(0, end), ...splice]);
        }),
    );
    const delivery = fc.oneof(
      fc.record({ kind: fc.constant('packet' as const), parts: fc.array(payload, { minLength: 1, maxLength: 1 }) }),
      fc.record({
        kind: fc.constant('compound' as const),
        parts: fc.array(
          payload.filter((p) => p.length < 200),
          { minLength: 2, maxLength: 6 },
        ),
      }),
      fc.record({ kind: fc.constant('stream' as const), parts: fc.array(payload, { minLength: 1, maxLength: 1 }) }),
    );
    let sent = 0;
    const received = stat(b, 'updatesReceived');
    await fc.assert(
      fc.asyncProperty(fc.array(delivery, { minLength: 1, maxLength: 5 }), async (batch) => {
        for (const d of batch) {
          if (d.kind === 'stream') await settle(sim, a.swim.net.sendUserStream(b.address, d.parts[0]!));
          else if (d.kind === 'packet') await a.swim.net.sendPacket(b.address, encodeUserPacket(d.parts[0]!));
          else await a.swim.net.sendPacket(b.address, encodeCompound(d.parts.map((p) => encodeUserPacket(p))));
          sent += d.parts.length;
        }
        await sim.clock.runFor(20);
        assert.ok(stat(b, 'held') <= 1024 && stat(b, 'heldBytes') <= 2 * 1024 * 1024, 'the hold is bounded');
      }),
      { numRuns: 300, seed: 20 },
    );
    await sim.clock.runFor(200);
    // At least: what b accepted and passed on comes back from the others as well.
    assert.ok(stat(b, 'updatesReceived') - received >= sent, `every fuzzed message (${sent}) reached the receive path`);
    assert.ok(stat(b, 'dropped') > sent / 4, `most were dropped and counted (${stat(b, 'dropped')} of ${sent})`);
    // The net layer catches what a handler throws: nothing may have been thrown.
    assert.equal(b.swim.net.stats.dropped.handler, 0, `the receive path threw: ${String(b.swim.net.stats.lastHandlerError)}`);
    assert.ok(await has(b, 'greeter'), 'the real registration is still there');
    let done = false;
    void a.register({ name: 'after', nodes: [{ id: 'n', address: '10.0.0.1:81' }] }).then(() => {
      done = true;
    });
    assert.ok(await sim.until(async () => done && (await has(b, 'after')), 2_000), 'a later registration arrives');
    await sim.close();
  });

  it('a hostile flood costs bounded CPU and memory against an honest flood of the same count', async () => {
    const sim = await setup();
    const { a, b, quiet, dead } = sim;
    const COUNT = 1_500;
    const ROUNDS = 3;
    const PER_PACKET = 4;
    const pad = 'p'.repeat(200);
    /** Sends COUNT updates from `make`, PER_PACKET to a compound, over simulated seconds; CPU ms and heap growth. */
    const flood = async (make: (i: number) => Uint8Array) => {
      gc();
      const heap = process.memoryUsage().heapUsed;
      const cpu = process.cpuUsage();
      let bytes = 0;
      for (let i = 0; i < COUNT; i += PER_PACKET) {
        const parts: Uint8Array[] = [];
        for (let j = i; j < i + PER_PACKET; j++) {
          const p = make(j);
          bytes += p.length;
          parts.push(encodeUserPacket(p));
        }
        await a.swim.net.sendPacket(b.address, encodeCompound(parts));
        if (i % 40 === 0) await sim.clock.runFor(10);
      }
      await sim.clock.runFor(1_000);
      const used = process.cpuUsage(cpu);
      gc();
      return { cpuMs: (used.user + used.system) / 1000, heap: process.memoryUsage().heapUsed - heap, bytes };
    };
    // Honest: new nodes of a known origin, each applied, stored, shown and passed on.
    const honestUpdate = (round: number) => (i: number) =>
      forged(quiet.memberName, 1_000 + round * COUNT + i, `h${round}-${i}`, { prev: 0 }, `honest-${pad.slice(0, 40)}`);
    // Hostile: unknown origins (held), a dead origin, services that are not services, broken protobuf.
    const hostileUpdate = (round: number) => (j: number) => {
      const i = round * COUNT + j;
      switch (i % 4) {
        case 0:
          return forged(`ghost-${i}`, i, `x${i}`, {}, `hostile-${pad.slice(0, 40)}`);
        case 1:
          return forged(dead.memberName, 10_000_000 + i, `z${i}`, {}, `hostile-${pad.slice(0, 40)}`);
        case 2:
          return forged(quiet.memberName, 5_000_000 + i, 'y', { data: new TextEncoder().encode(`{"name":"${pad}","nodes":7}`) });
        default:
          return Uint8Array.from([0x3a, 0xff, 0xff, 0x03, ...new TextEncoder().encode(pad)]);
      }
    };
    // Rounds alternate, and each kind keeps its cheapest round: one process-wide pause (a major
    // GC, a JIT tier-up, a starved core) inflates one window, not the comparison.
    type Cost = Awaited<ReturnType<typeof flood>>;
    const cheapest = (a: Cost | undefined, b: Cost): Cost =>
      a === undefined ? b : { cpuMs: Math.min(a.cpuMs, b.cpuMs), heap: Math.min(a.heap, b.heap), bytes: b.bytes };
    let honest: Cost | undefined;
    let hostile: Cost | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      honest = cheapest(honest, await flood(honestUpdate(round)));
      hostile = cheapest(hostile, await flood(hostileUpdate(round)));
    }
    assert.ok(honest && hostile && (await has(b, `honest-${pad.slice(0, 40)}`)));
    const cpuRatio = hostile.cpuMs / honest.cpuMs;
    const heapRatio = Math.max(0, hostile.heap) / Math.max(1, honest.heap);
    process.stderr.write(
      `# cheapest of ${ROUNDS} rounds of ${COUNT}: honest: ${honest.cpuMs.toFixed(0)} ms CPU, ${(honest.heap / 1024).toFixed(0)} KiB heap, ${honest.bytes} B; ` +
        `hostile: ${hostile.cpuMs.toFixed(0)} ms CPU, ${(hostile.heap / 1024).toFixed(0)} KiB heap, ${hostile.bytes} B; ` +
        `ratios CPU ${cpuRatio.toFixed(2)}, heap ${heapRatio.toFixed(2)}; held ${stat(b, 'held')} (${stat(b, 'heldBytes')} B)\n`,
    );
    assert.ok(hostile.bytes >= honest.bytes * 0.8, 'the hostile flood is at least as many bytes');
    assert.ok(cpuRatio <= 1, `hostile CPU ${cpuRatio.toFixed(2)}x the honest flood's`);
    assert.ok(heapRatio <= 1, `hostile heap growth ${heapRatio.toFixed(2)}x the honest flood's`);
    const sent = ROUNDS * COUNT;
    assert.ok(stat(b, 'deadOriginUpdates') >= sent / 4 && stat(b, 'badServices') >= sent / 4 && stat(b, 'badUpdates') >= sent / 4);
    assert.ok(stat(b, 'held') <= 1024, 'held updates bounded');
    assert.equal(b.swim.net.stats.dropped.handler, 0, 'nothing was thrown');
    assert.equal(await has(b, `hostile-${pad.slice(0, 40)}`), false, 'nothing hostile is shown');
    assert.ok(await has(b, 'greeter'), 'the real registration is still there');
    await sim.close();
  });
});
