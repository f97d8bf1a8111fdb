/**
 * The gossip registry's state on a simulated clock: last writer wins per (origin, node), stale and
 * re-gossiped updates are ignored, tombstones outlive the ttl, expiry runs on the receiver's clock,
 * a member's death removes its nodes at once, and the newest claim owns a node id (takeover).
 * Then registries on the in-memory network: an update spreads, a large one goes over a stream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Entries, type EntryChange } from '../../src/adapters/gossip/registry/entries.js';
import { decodeMessage, encodeMessage } from '../../src/adapters/gossip/registry/message.js';
import { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { resolveGossipSettings } from '../../src/adapters/gossip/registry/settings.js';
import { encodeUserPacket } from '../../src/adapters/gossip/wire/messages.js';
import type { Service, WatchEvent } from '../../src/index.js';
import { MemoryNetwork } from '../../src/internal/memory-network.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';
import { ServiceView } from '../../src/view.js';

const svc = (id: string, address = '10.0.0.1:80', meta: Record<string, string> = {}): Service =>
  Object.freeze({
    name: 'greeter',
    version: '1',
    metadata: Object.freeze({}),
    endpoints: Object.freeze([]),
    nodes: Object.freeze([Object.freeze({ id, address, metadata: Object.freeze(meta) })]),
  }) as Service;

function setup() {
  const clock = new SimulatedClock(1_000);
  const view = new ServiceView({ adapter: 'gossip' });
  const entries = new Entries({ clock, view, tombstoneMs: 10_000 });
  const change = (c: Partial<EntryChange>): EntryChange => ({
    origin: 'a',
    seq: 1,
    claim: 1,
    service: svc('n1'),
    deleted: false,
    ttl: 3_000,
    ...c,
  });
  const shown = () => view.get('greeter').flatMap((s) => s.nodes.map((n) => `${n.id}@${n.address}`));
  return { clock, view, entries, change, shown };
}

describe('gossip registry state', () => {
  it('last writer wins per (origin, node); an older or repeated update is stale', () => {
    const { entries, change, shown } = setup();
    assert.equal(entries.apply(change({ seq: 5, service: svc('n1', '10.0.0.1:5') })), 'applied');
    assert.equal(entries.apply(change({ seq: 5, service: svc('n1', '10.0.0.1:6') })), 'stale', 'same sequence: a duplicate');
    assert.equal(entries.apply(change({ seq: 3, service: svc('n1', '10.0.0.1:3') })), 'stale', 'older: out of order');
    assert.deepEqual(shown(), ['n1@10.0.0.1:5']);
    assert.equal(entries.apply(change({ seq: 6, service: svc('n1', '10.0.0.1:6') })), 'applied');
    assert.deepEqual(shown(), ['n1@10.0.0.1:6']);
  });

  it('a delete is a tombstone: a late create with a lower sequence does not resurrect the node', async () => {
    const { clock, entries, change, shown } = setup();
    entries.apply(change({ seq: 1 }));
    entries.apply(change({ seq: 2, deleted: true }));
    assert.deepEqual(shown(), []);
    await clock.runFor(3_000 + 5_000);
    assert.equal(entries.apply(change({ seq: 1 })), 'stale', 'the tombstone outlives the ttl');
    assert.deepEqual(shown(), []);
    await clock.runFor(10_000);
    assert.equal(entries.size, 0, 'the tombstone is forgotten after ttl + tombstone time');
  });

  it('expires on the receiver clock after the relative ttl, unless renewed', async () => {
    const { clock, entries, change, shown } = setup();
    entries.apply(change({ seq: 1, ttl: 3_000 }));
    await clock.runFor(2_000);
    entries.apply(change({ seq: 2, ttl: 3_000 }));
    await clock.runFor(2_500);
    assert.deepEqual(shown(), ['n1@10.0.0.1:80'], 'renewed at 2 s: alive at 4.5 s');
    await clock.runFor(700);
    assert.deepEqual(shown(), [], 'expired 3 s after the renewal');
    assert.equal(entries.expired, 1);
    assert.equal(entries.apply(change({ seq: 2 })), 'stale', 'the expired entry is a tombstone');
    assert.equal(entries.apply(change({ seq: 3 })), 'applied', 'a newer heartbeat brings it back');
  });

  it('a dead origin loses its nodes at once; other origins keep theirs', () => {
    const { entries, change, shown } = setup();
    entries.apply(change({ origin: 'a', service: svc('n1') }));
    entries.apply(change({ origin: 'b', service: svc('n2') }));
    assert.equal(entries.dropOrigin('a'), 1);
    assert.deepEqual(shown(), ['n2@10.0.0.1:80']);
    assert.equal(entries.apply(change({ origin: 'a', seq: 1, service: svc('n1') })), 'stale');
  });

  it('takeover: the newest claim owns a node id; the old origin’s renewals and goodbye leave it', () => {
    const { view, entries, change, shown } = setup();
    const events: string[] = [];
    const watcher = view.watch();
    void (async () => {
      for await (const e of watcher as AsyncIterable<WatchEvent>) if (e.type !== 'resync') events.push(`${e.type}`);
    })();
    entries.apply(change({ origin: 'old', seq: 1, claim: 100, service: svc('api', '10.0.0.1:1') }));
    entries.apply(change({ origin: 'new', seq: 1, claim: 200, service: svc('api', '10.0.0.1:2') }));
    assert.deepEqual(shown(), ['api@10.0.0.1:2']);
    entries.apply(change({ origin: 'old', seq: 2, claim: 100, service: svc('api', '10.0.0.1:1') }));
    assert.deepEqual(shown(), ['api@10.0.0.1:2'], 'a renewal of the old claim does not take it back');
    entries.apply(change({ origin: 'old', seq: 3, claim: 100, deleted: true, service: svc('api', '10.0.0.1:1') }));
    assert.deepEqual(shown(), ['api@10.0.0.1:2'], 'the old goodbye removes only its own entry');
    entries.dropOrigin('old');
    assert.deepEqual(shown(), ['api@10.0.0.1:2']);
    // The order of arrival does not matter: the older claim arriving last still loses.
    const other = setup();
    other.entries.apply(change({ origin: 'new', seq: 1, claim: 200, service: svc('api', '10.0.0.1:2') }));
    other.entries.apply(change({ origin: 'old', seq: 9, claim: 100, service: svc('api', '10.0.0.1:1') }));
    assert.deepEqual(other.shown(), ['api@10.0.0.1:2']);
    watcher.stop();
  });
});

describe('gossip Update codec', () => {
  it('round-trips our stamp, claim, prev and incarnation through update.ts; malformed input throws', () => {
    const data = new TextEncoder().encode('{"name":"x"}');
    const m = decodeMessage(
      encodeMessage({
        action: 'update',
        expires: 1_700_000_000_000_000_000n,
        data,
        origin: 'm1',
        seq: 1_781_234_567_890_123,
        ttl: 30_000,
        claim: 42,
        prev: 1_781_234_567_890_100,
        incarnation: 3,
      }),
    );
    assert.deepEqual(
      { ...m, data: new TextDecoder().decode(m.data) },
      {
        action: 'update',
        expires: 1_700_000_000_000_000_000n,
        data: '{"name":"x"}',
        origin: 'm1',
        seq: 1_781_234_567_890_123,
        ttl: 30_000,
        claim: 42,
        prev: 1_781_234_567_890_100,
        incarnation: 3,
      },
    );
    for (const bad of [
      Uint8Array.of(0x08),
      Uint8Array.of(0x3a, 0x10, 1),
      Uint8Array.of(0x10, 2, 0x18, 1),
      Uint8Array.of(0x10, 1, 0x18, 9, 0x3a, 0),
    ]) {
      assert.throws(() => decodeMessage(bad), Error);
    }
  });
});

describe('gossip registries on the in-memory network', () => {
  async function cluster(n: number) {
    const clock = new SimulatedClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 7, latency: 1, loss: 0 });
    const registries: GossipRegistry[] = [];
    for (let i = 0; i < n; i++) {
      const transport = network.createTransport();
      const seeds = registries.length ? [String(registries[0]?.stats().address)] : [];
      const settings = { ...resolveGossipSettings({ address: seeds, preset: 'local', name: `m${i}` }), transport, clock };
      let made: GossipRegistry | undefined;
      void GossipRegistry.start({ keepAlive: false }, settings).then((r) => {
        made = r;
      });
      await clock.runUntil(() => made !== undefined, 5_000);
      registries.push(made as GossipRegistry);
    }
    return { clock, network, registries, close: () => Promise.all(registries.map((r) => r.crash())) };
  }

  it('a registration reaches every member; a large one goes over a stream; a dead origin’s nodes go at once', async () => {
    const { clock, registries, close } = await cluster(4);
    const [a, b, c, d] = registries as [GossipRegistry, GossipRegistry, GossipRegistry, GossipRegistry];
    let done = false;
    void a.register({ name: 'greeter', nodes: [{ id: 'g1', address: '10.0.0.1:80' }] }, { ttl: 60_000 }).then(() => {
      done = true;
    });
    await clock.runUntil(() => done, 1_000);
    const seen = (r: GossipRegistry, name: string) =>
      r.getService(name).then(
        () => true,
        () => false,
      );
    const everywhere = async (name: string) => (await Promise.all([b, c, d].map((r) => seen(r, name)))).every(Boolean);
    let ok = false;
    for (let t = 0; t < 40 && !ok; t++) {
      await clock.runFor(50);
      ok = await everywhere('greeter');
    }
    assert.ok(ok, 'the registration reached every member within 2 s');
    // Still there later (renewals).
    await clock.runFor(10_000);
    assert.ok(await everywhere('greeter'), 'still there after 10 s');
    // Over 1,400 bytes: a stream to each member.
    const endpoints = Array.from({ length: 40 }, (_, i) => ({
      name: `Svc.Method${i}`,
      request: null,
      response: null,
      metadata: { k: 'v'.repeat(60) },
    }));
    done = false;
    void b.register({ name: 'large', endpoints, nodes: [{ id: 'l1', address: '10.0.0.2:80' }] }).then(() => {
      done = true;
    });
    await clock.runUntil(() => done, 1_000);
    ok = false;
    for (let t = 0; t < 40 && !ok; t++) {
      await clock.runFor(50);
      ok = (await Promise.all([a, c, d].map((r) => seen(r, 'large')))).every(Boolean);
    }
    assert.ok(ok, 'the large registration reached every member');
    assert.ok(Number(b.stats().largeUpdates) >= 1, 'it went as a large update');
    // Bad input from the network: malformed protobuf and JSON that is not a Service, dropped and counted.
    const before = Number(c.stats().dropped);
    const garbage = [
      Uint8Array.of(0x3a, 0x50, 1),
      encodeMessage({ action: 'create', expires: 0n, data: new TextEncoder().encode('{"name":42}'), origin: 'x', seq: 1, ttl: 1000 }),
    ];
    for (const g of garbage) await d.swim.net.sendPacket(c.address, encodeUserPacket(g));
    await clock.runFor(100);
    assert.equal(Number(c.stats().dropped) - before, 2, 'both dropped and counted');
    assert.ok(await seen(c, 'greeter'), 'nothing else lost');
    // a dies without a goodbye: SWIM declares it dead and its node goes before its ttl would say.
    await a.crash();
    let gone = false;
    const start = clock.now();
    for (let t = 0; t < 400 && !gone; t++) {
      await clock.runFor(50);
      gone = !(await seen(b, 'greeter'));
    }
    assert.ok(gone, 'the dead origin’s node is gone');
    assert.ok(clock.now() - start < 20_000, `within the detection bound, not the 60 s ttl (${clock.now() - start} ms)`);
    await close();
  });
});
