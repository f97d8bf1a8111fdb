/**
 * The gossip adapter (`createGossipRegistry` / `createRegistry`) in one memberlist cluster with a
 * Go peer that behaves as Go Micro's gossip registry (test/peers/go-micro-gossip: Go's protobuf,
 * encoding/json with Go Micro's tags, memberlist 0.2.2): registrations both ways with version,
 * metadata and endpoints, deletes both ways, renewals that keep our node in Go's registry, a 10 KB
 * service over TCP, push/pull state in Go Micro's format both ways, and Go's absolute `expires`
 * clamped against a sender clock 10 minutes ahead or behind. Real sockets on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createGossipRegistry, type GossipOptions } from '../../src/adapters/gossip/index.js';
import { createRegistry, isRollcallError, type Registry, type ServiceEvent } from '../../src/index.js';
import { type GoMicroGossip, type GoMicroGossipOptions, goMicroGossipSkip, startGoMicroGossip } from '../peers/go-micro-gossip.js';

const skip = goMicroGossipSkip();
const KEY = new Uint8Array(Buffer.from('0123456789abcdef'));

const until = async (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Go Micro service as Go's registry.Service JSON writes it. */
const greeter = {
  name: 'go.micro.srv.greeter',
  version: '1.0.3',
  metadata: { team: 'core', region: 'eu-1' },
  endpoints: [
    {
      name: 'Say.Hello',
      request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
      response: { name: 'Response', type: 'Response', values: [{ name: 'msg', type: 'string', values: null }] },
      metadata: { stream: 'false' },
    },
  ],
  nodes: [{ id: 'go.micro.srv.greeter-1', address: '127.0.0.1:50051', metadata: { protocol: 'mucp', registry: 'gossip' } }],
};

const ours = {
  name: 'rollcall.orders',
  version: 'v2',
  metadata: { owner: 'shop' },
  endpoints: [
    { name: 'Orders.Get', request: { name: 'Id', type: 'string', values: [] }, response: null, metadata: { idempotent: 'true' } },
  ],
  nodes: [{ id: 'orders-1', address: '127.0.0.1:8081', metadata: { protocol: 'grpc' } }],
};

async function ourRegistry(t: TestContext, options: GossipOptions = {}, viaCreateRegistry = false): Promise<Registry> {
  const base: GossipOptions = { bind: '127.0.0.1', port: 0, preset: 'local', ...options };
  const registry = viaCreateRegistry ? await createRegistry({ ...base, kind: 'gossip' }) : await createGossipRegistry(base);
  t.after(() => registry.close());
  return registry;
}

async function goPeer(t: TestContext, options: GoMicroGossipOptions): Promise<GoMicroGossip> {
  const go = await startGoMicroGossip(options);
  t.after(() => go.stop());
  return go;
}

const addressOf = (r: Registry) => String(r.stats().address);
const goHas = async (go: GoMicroGossip, name: string, nodeId: string) =>
  ((await go.services())[name] ?? []).some((s) => ((s as typeof ours).nodes ?? []).some((n) => n.id === nodeId));
const weHave = async (r: Registry, name: string) => (await r.getService(name).catch(() => [])).length > 0;

/** Records the watch events of one registry with the time each arrived. */
function record(r: Registry, service?: string): { events: (ServiceEvent & { at: number })[]; stop: () => void } {
  const events: (ServiceEvent & { at: number })[] = [];
  const watcher = r.watch(service === undefined ? {} : { service });
  void (async () => {
    for await (const e of watcher) if (e.type !== 'resync') events.push({ ...e, at: Date.now() });
  })();
  return { events, stop: () => watcher.stop() };
}

describe('gossip adapter with a Go Micro gossip registry', { skip }, () => {
  for (const key of [undefined, KEY]) {
    const how = key ? 'with a 16-byte key' : 'in plaintext';
    it(`registers, decodes and deletes both ways, ${how}; a 10 KB service reaches Go over TCP`, async (t) => {
      const registry = await ourRegistry(t, key ? { keyring: [key] } : {}, key !== undefined);
      const go = await goPeer(t, { join: [addressOf(registry)], ...(key ? { key } : {}) });
      const watch = record(registry, greeter.name);
      t.after(() => watch.stop());

      // Go -> us: version, metadata and endpoints as Go Micro wrote them.
      await go.register(greeter, 60_000);
      await until(() => weHave(registry, greeter.name), 5_000, "Go's service in getService");
      const [got] = await registry.getService(greeter.name);
      assert.equal(got?.version, greeter.version);
      assert.deepEqual({ ...got?.metadata }, greeter.metadata);
      assert.deepEqual(JSON.parse(JSON.stringify(got?.endpoints)), greeter.endpoints);
      assert.deepEqual(JSON.parse(JSON.stringify(got?.nodes)), greeter.nodes);

      // us -> Go: Go's protobuf and encoding/json decode it into its registry.
      const reg = await registry.register(ours, { ttl: 30_000 });
      await until(() => goHas(go, ours.name, 'orders-1'), 5_000, 'our service in Go');
      const [inGo] = (await go.services())[ours.name] as (typeof ours)[];
      assert.deepEqual(JSON.parse(JSON.stringify(inGo)), ours);
      const create = go.events.find((e) => e.event === 'update' && (e.service as { name?: string })?.name === ours.name);
      assert.equal(create?.action, 1);
      assert.equal((create?.metadata as Record<string, string> | undefined)?.['Content-Type'], 'application/json');

      // Go deregisters: our watch sees the delete, getService no longer has it.
      await go.deregister(greeter);
      await until(() => watch.events.some((e) => e.type === 'delete'), 5_000, "a delete event for Go's service");
      await assert.rejects(registry.getService(greeter.name), (e) => isRollcallError(e, 'NOT_FOUND'));
      const deleted = watch.events.find((e) => e.type === 'delete');
      assert.deepEqual(
        deleted?.removed.map((n) => n.id),
        ['go.micro.srv.greeter-1'],
      );

      // We deregister: Go's registry removes our node (its action 2 decoded).
      await reg.deregister();
      await until(async () => !(await goHas(go, ours.name, 'orders-1')), 5_000, 'our node removed from Go');
      assert.ok(go.events.some((e) => e.event === 'update' && e.action === 2 && (e.service as { name?: string })?.name === ours.name));

      // A 10 KB service: several packets' worth, so it goes as a TCP user message; Go decodes it.
      const big = {
        name: 'rollcall.big',
        version: '1',
        metadata: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'x'.repeat(512)])),
        endpoints: [],
        nodes: [{ id: 'big-1', address: '127.0.0.1:9000', metadata: {} }],
      };
      const largeBefore = Number(registry.stats().largeUpdates);
      await registry.register(big, { ttl: 30_000 });
      await until(() => goHas(go, big.name, 'big-1'), 5_000, 'the 10 KB service in Go');
      const arrived = go.events.find((e) => e.event === 'update' && (e.service as { name?: string })?.name === big.name);
      assert.ok(String(arrived?.data).length / 2 > 10_240, 'the update Go decoded holds the whole service');
      assert.deepEqual((arrived?.service as typeof big | undefined)?.metadata, big.metadata);
      assert.ok(Number(registry.stats().largeUpdates) > largeBefore, 'sent as a large (TCP) update');
      assert.ok(
        !go.events.some((e) => e.event === 'dropped'),
        `Go dropped nothing: ${JSON.stringify(go.events.filter((e) => e.event === 'dropped'))}`,
      );
    });
  }

  it("our renewals keep our node in Go's registry past its ttl (Go Micro re-registers with create)", async (t) => {
    const registry = await ourRegistry(t);
    const go = await goPeer(t, { join: [addressOf(registry)] });
    await registry.register(ours, { ttl: 1_500 });
    await until(() => goHas(go, ours.name, 'orders-1'), 5_000, 'our service in Go');
    // Go expires an entry at its `expires`: three ttls later only renewals keep it there.
    await sleep(4_500);
    assert.ok(await goHas(go, ours.name, 'orders-1'), 'still in Go after 3 ttls');
    assert.ok(!go.events.some((e) => e.event === 'expire'), 'Go expired nothing');
  });

  it("push/pull state in Go Micro's format both ways; what we learn from it still expires", async (t) => {
    const registry = await ourRegistry(t, { goMicroTtl: { min: 500, max: 2_500 } });
    await registry.register(ours, { ttl: 30_000 });
    const watch = record(registry, greeter.name);
    t.after(() => watch.stop());
    // Held but never broadcast: only Go's push/pull state can tell us of it.
    const go = await goPeer(t, {});
    await go.register(greeter, 60_000, { local: true });
    assert.equal(await go.join([addressOf(registry)]), 1);

    // Go's MergeRemoteState read our state (a Go Micro map[name][]Service) and merged our service.
    const merge = await go.waitFor((e) => e.event === 'merge', 5_000, "Go's merge of our state");
    const merged = (merge.services as (typeof ours)[]).find((s) => s.name === ours.name);
    assert.deepEqual(JSON.parse(JSON.stringify(merged)), ours);
    assert.ok(await goHas(go, ours.name, 'orders-1'));

    // Go's state reached us, with its endpoints...
    await until(() => weHave(registry, greeter.name), 3_000, "Go's state in getService");
    const [got] = await registry.getService(greeter.name);
    assert.deepEqual(JSON.parse(JSON.stringify(got?.endpoints)), greeter.endpoints);
    // ...and expires (it has no expiry of its own: kept the window's max), though Go still holds it.
    await until(() => watch.events.some((e) => e.type === 'delete'), 6_000, 'the state-learned node to expire');
    const created = watch.events.find((e) => e.type === 'create');
    const gone = watch.events.find((e) => e.type === 'delete');
    const lived = (gone?.at ?? 0) - (created?.at ?? 0);
    assert.ok(lived >= 2_000 && lived <= 4_500, `kept ${lived} ms, the window's max is 2500`);
    assert.ok(await goHas(go, greeter.name, 'go.micro.srv.greeter-1'), 'Go keeps merged state (its own behaviour)');
    assert.equal(Number(registry.stats().dropped ?? 0), 0);
  });

  it('a Go sender clock 10 min ahead or behind: its nodes neither stick nor vanish at once', async (t) => {
    const min = 1_500;
    const max = 4_000;
    const registry = await ourRegistry(t, { goMicroTtl: { min, max } });
    const watch = record(registry);
    t.after(() => watch.stop());
    const ahead = await goPeer(t, { join: [addressOf(registry)], skewMs: 10 * 60_000, name: 'ahead' });
    const behind = await goPeer(t, { join: [addressOf(registry)], skewMs: -10 * 60_000, name: 'behind' });
    const service = (name: string) => ({ ...greeter, name, nodes: [{ ...greeter.nodes[0], id: `${name}-1` }] });
    // A 2 s ttl, never renewed: by its sender's clock one expires in 10 min, the other 10 min ago.
    await ahead.register(service('skew.ahead'), 2_000);
    await behind.register(service('skew.behind'), 2_000);
    const lifetime = async (name: string) => {
      await until(() => watch.events.some((e) => e.service.name === name && e.type === 'delete'), 15_000, `${name} to expire`);
      const created = watch.events.find((e) => e.service.name === name && e.type === 'create');
      const deleted = watch.events.find((e) => e.service.name === name && e.type === 'delete');
      assert.ok(created, `${name} was seen`);
      return (deleted?.at ?? 0) - created.at;
    };
    const [aheadLived, behindLived] = await Promise.all([lifetime('skew.ahead'), lifetime('skew.behind')]);
    // Ahead: clamped to max (not 10 min); behind: clamped to min (not gone at once). Timers sweep
    // at most 50 ms late; the upper slack covers a busy host.
    assert.ok(aheadLived >= max - 300 && aheadLived <= max + 2_000, `ahead kept ${aheadLived} ms, max is ${max}`);
    assert.ok(behindLived >= min - 300 && behindLived <= min + 2_000, `behind kept ${behindLived} ms, min is ${min}`);
  });
});

it('goMicroTtl is validated: a typed INVALID_OPTIONS error for a bad window', async () => {
  for (const goMicroTtl of [{ min: 0 }, { max: 2 ** 31 }, { min: 5_000, max: 1_000 }, { min: 1.5 }, 'x', null]) {
    await assert.rejects(
      createGossipRegistry({ bind: '127.0.0.1', port: 0, goMicroTtl } as never),
      (e) => isRollcallError(e, 'INVALID_OPTIONS') && /goMicroTtl/.test((e as Error).message),
      JSON.stringify(goMicroTtl),
    );
  }
});
