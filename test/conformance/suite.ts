/**
 * The conformance suite: every adapter runs it, so "the same code runs on all four adapters" is a
 * tested promise rather than a hope. Each adapter file calls `testRegistry` with a way to create
 * registries that see each other (memory handles on one store, or child processes on LAN hosts),
 * a way to crash one, and timings its protocol allows.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { isRollcallError, type Registry, type RegistryStats, RollcallError, type WatchState } from '../../src/index.js';
import { type ConformanceCapabilities, testCapabilities } from './capabilities.js';
import { eventually, Recorder, recordedState, registryState, service, uniqueName, within } from './helpers.js';

export interface ConformanceTiming {
  /** TTL given to registrations whose expiry is tested, in ms. */
  ttl: number;
  /** Longest a change may take to reach another registry's watcher. */
  propagation: number;
  /** Longest after a crash until the node is reported gone (ttl plus detection slack). */
  expiry: number;
  /** Services registered at once in the concurrency test. */
  concurrency: number;
  /** Operations in the churn test. */
  churnOps: number;
}

export interface ConformanceTarget {
  /** Adapter label for test names. */
  name: string;
  /** A new registry; every registry it creates sees the others' registrations. */
  create(): Promise<Registry>;
  /** Ends `registry` as a crash would: no goodbye. */
  crash(registry: Registry): Promise<void>;
  /** Stats of `registry` (remote registries answer asynchronously). */
  stats?(registry: Registry): Promise<RegistryStats>;
  /** Host part of node addresses registered by `registry`. @default '127.0.0.1' */
  host?(registry: Registry): string;
  /**
   * A new registry on the same host as `registry`, as a restarted process would be.
   * @default create()
   */
  createBeside?(registry: Registry): Promise<Registry>;
  /** Optional features the adapter has; their tests are skipped where it lacks them. */
  capabilities?: ConformanceCapabilities;
  timing: ConformanceTiming;
  /**
   * How to take `registry`'s backend away and give it back, for the watch-state test (consul:
   * stop the agent; mdns: unplug the cable of the registry's host). `'never'` for adapters that
   * cannot be blind (memory); left out, the test is skipped with a notice.
   */
  blindness?: Blindness | 'never';
}

export interface Blindness {
  cut(registry: Registry): Promise<void>;
  restore(registry: Registry): Promise<void>;
  /** Longest until a watcher notices either change. */
  notice: number;
}

export function testRegistry(target: ConformanceTarget): void {
  const { timing } = target;
  const statsOf = (r: Registry) => (target.stats ? target.stats(r) : Promise.resolve(r.stats()));
  const hostOf = (r: Registry) => target.host?.(r) ?? '127.0.0.1';

  async function open(t: TestContext, count: number): Promise<Registry[]> {
    const registries = await Promise.all(Array.from({ length: count }, () => target.create()));
    t.after(() => Promise.allSettled(registries.map((r) => r.close())));
    return registries;
  }

  describe(`conformance: ${target.name}`, () => {
    testCapabilities(target, open);

    it('register: getService returns every node with its metadata, endpoints and version', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName();
      const reg = await a.register(
        service(name, [{ id: `${name}-1`, port: 7001, metadata: { protocol: 'http', zone: 'z1' } }], '1.2.3', hostOf(a)),
      );
      assert.equal(reg.service.nodes[0]?.id, `${name}-1`);
      let found: readonly import('../../src/index.js').Service[] = [];
      await eventually(
        async () => {
          found = await b.getService(name, { timeout: timing.propagation }).catch(() => []);
          return found.length === 1;
        },
        timing.propagation,
        'the service to reach the other registry',
      );
      const [svc] = found;
      assert.equal(svc?.version, '1.2.3');
      assert.deepEqual(svc?.metadata, { suite: 'conformance' });
      assert.equal(svc?.endpoints[0]?.name, 'Greeter.Hello');
      assert.equal(svc?.nodes[0]?.address, `${hostOf(a)}:7001`);
      assert.deepEqual(svc?.nodes[0]?.metadata, { protocol: 'http', zone: 'z1' });
      assert.ok(Object.isFrozen(svc) && Object.isFrozen(svc?.nodes[0]), 'returned services are frozen snapshots');
    });

    it('register: versions are separate services of one name; default node ids are <name>-<uuid>', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName();
      const host = hostOf(a);
      await a.register({ name, version: 'v1', nodes: [{ address: `${host}:7101` }] });
      await a.register({ name, version: 'v2', nodes: [{ address: `${host}:7102` }] });
      await eventually(async () => (await b.getService(name).catch(() => [])).length === 2, timing.propagation, 'both versions');
      const versions = (await b.getService(name)).map((s) => s.version).sort();
      assert.deepEqual(versions, ['v1', 'v2']);
      for (const s of await b.getService(name)) assert.match(s.nodes[0]?.id ?? '', new RegExp(`^${name}-[0-9a-f-]{36}$`));
    });

    it('getService: an unknown service rejects NOT_FOUND; an aborted lookup rejects AbortError', async (t) => {
      const [a] = (await open(t, 1)) as [Registry];
      await assert.rejects(a.getService(uniqueName('missing'), { timeout: Math.min(500, timing.propagation) }), (e) =>
        isRollcallError(e, 'NOT_FOUND'),
      );
      await assert.rejects(a.getService('anything', { signal: AbortSignal.abort() }), { name: 'AbortError' });
    });

    it('listServices: one node-less entry per live name and version', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName();
      const host = hostOf(a);
      await a.register(service(name, [{ id: `${name}-1`, port: 7201 }], 'v1', host));
      await a.register(service(name, [{ id: `${name}-2`, port: 7202 }], 'v2', host));
      await eventually(
        async () => (await b.listServices()).filter((s) => s.name === name).length === 2,
        timing.propagation,
        'both versions listed',
      );
      const listed = (await b.listServices()).filter((s) => s.name === name);
      assert.deepEqual(listed.map((s) => s.version).sort(), ['v1', 'v2']);
      for (const s of listed) assert.equal(s.nodes.length, 0);
    });

    it('watch: all services, snapshot first (synced) then changes', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const first = uniqueName('first');
      const second = uniqueName('second');
      const host = hostOf(a);
      await a.register(service(first, [{ id: `${first}-1`, port: 7301 }], '1.0.0', host));
      await eventually(async () => (await b.getService(first).catch(() => [])).length > 0, timing.propagation, 'first service visible');
      const rec = new Recorder(b.watch());
      t.after(() => rec.stop());
      await rec.watcher.synced;
      assert.ok(rec.state.has(`${first}@1.0.0`), 'the snapshot holds the service registered before the watch');
      assert.equal(rec.events[0]?.type, 'create');
      const reg = await a.register(service(second, [{ id: `${second}-1`, port: 7302 }], '1.0.0', host));
      await rec.until((r) => r.nodeIds(second).length === 1, timing.propagation, 'create of the second service');
      const created = rec.events.find((e) => e.type === 'create' && e.service.name === second);
      assert.ok(created && created.type !== 'resync');
      assert.deepEqual(
        created.added.map((n) => n.id),
        [`${second}-1`],
      );
      await reg.deregister();
      await rec.until((r) => r.nodeIds(second).length === 0, timing.propagation, 'delete of the second service');
      const deleted = rec.events.findLast((e) => e.type !== 'resync' && e.service.name === second);
      assert.equal(deleted?.type, 'delete');
      assert.ok(deleted && deleted.type === 'delete' && deleted.removed[0]?.id === `${second}-1` && deleted.service.nodes.length === 0);
    });

    it('watch: one service sees only that service, including node updates', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName('one');
      const other = uniqueName('other');
      const host = hostOf(a);
      const rec = new Recorder(b.watch({ service: name }));
      t.after(() => rec.stop());
      await rec.watcher.synced;
      await a.register(service(other, [{ id: `${other}-1`, port: 7401 }], '1.0.0', host));
      await a.register(service(name, [{ id: `${name}-1`, port: 7402 }], '1.0.0', host));
      await rec.until((r) => r.nodeIds(name).length === 1, timing.propagation, 'create of the watched service');
      // Re-register the same node with new metadata: an idempotent update, not a duplicate.
      await a.register(service(name, [{ id: `${name}-1`, port: 7402, metadata: { protocol: 'http', build: '2' } }], '1.0.0', host));
      await rec.until(
        (r) => r.state.get(`${name}@1.0.0`)?.nodes[0]?.metadata.build === '2',
        timing.propagation,
        'update with the new metadata',
      );
      const update = rec.events.findLast((e) => e.type === 'update');
      assert.ok(update && update.type === 'update' && update.updated[0]?.id === `${name}-1`);
      assert.equal(rec.state.get(`${name}@1.0.0`)?.nodes.length, 1);
      assert.ok(
        rec.events.every((e) => e.type === 'resync' || e.service.name === name),
        'no event of another service',
      );
    });

    it('watch: ending the iteration frees the watcher and its backend queries', async (t) => {
      const [a] = (await open(t, 1)) as [Registry];
      const before = (await statsOf(a)).watchers;
      const name = uniqueName();
      const all = a.watch();
      const one = a.watch({ service: name });
      const controller = new AbortController();
      const aborted = a.watch({ signal: controller.signal });
      assert.equal((await statsOf(a)).watchers, before + 3);
      await all.return?.();
      const pending = one.next();
      await one.return?.();
      assert.deepEqual(await pending, { done: true, value: undefined }, 'a pending next() ends when the watcher ends');
      controller.abort();
      assert.equal((await aborted.next()).done, true);
      await eventually(async () => (await statsOf(a)).watchers === before, timing.propagation, 'watchers released');
    });

    it('deregister: explicit deregister removes nodes; Registration.deregister is idempotent', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName();
      const host = hostOf(a);
      const rec = new Recorder(b.watch({ service: name }));
      t.after(() => rec.stop());
      await rec.watcher.synced;
      const input = service(
        name,
        [
          { id: `${name}-1`, port: 7501 },
          { id: `${name}-2`, port: 7502 },
        ],
        '1.0.0',
        host,
      );
      const reg = await a.register(input);
      await rec.until((r) => r.nodeIds(name).length === 2, timing.propagation, 'two nodes');
      await a.deregister({ ...input, nodes: [input.nodes[0] as { id: string; address: string }] });
      await rec.until((r) => r.nodeIds(name).length === 1, timing.propagation, 'one node left');
      assert.deepEqual(rec.nodeIds(name), [`${name}-2`]);
      await reg.deregister();
      await reg.deregister();
      await rec.until((r) => r.nodeIds(name).length === 0, timing.propagation, 'no node left');
      await assert.rejects(b.getService(name, { timeout: 200 }), (e) => isRollcallError(e, 'NOT_FOUND'));
    });

    it('close: says goodbye, so other registries see delete; close is idempotent; calls after it reject CLOSED', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName();
      const rec = new Recorder(b.watch({ service: name }));
      t.after(() => rec.stop());
      await rec.watcher.synced;
      await a.register(service(name, [{ id: `${name}-1`, port: 7601 }], '1.0.0', hostOf(a)), { ttl: 120_000 });
      await rec.until((r) => r.nodeIds(name).length === 1, timing.propagation, 'create');
      await Promise.all([a.close(), a.close()]);
      await a.close();
      await rec.until((r) => r.nodeIds(name).length === 0, timing.propagation, 'delete after close (a goodbye, not expiry)');
      await assert.rejects(a.register(service(name, [{ id: 'x', port: 1 }])), (e) => isRollcallError(e, 'CLOSED'));
      await assert.rejects(a.getService(name), (e) => isRollcallError(e, 'CLOSED'));
      assert.throws(
        () => a.watch(),
        (e) => isRollcallError(e, 'CLOSED'),
      );
    });

    it('crash: a crashed registry’s nodes expire after their ttl and watchers see delete', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName('crash');
      const rec = new Recorder(b.watch({ service: name }));
      t.after(() => rec.stop());
      await rec.watcher.synced;
      await a.register(service(name, [{ id: `${name}-1`, port: 7701 }], '1.0.0', hostOf(a)), { ttl: timing.ttl });
      await rec.until((r) => r.nodeIds(name).length === 1, timing.propagation, 'create');
      // Survives several renewals: the lease keeper works.
      await new Promise((r) => setTimeout(r, timing.ttl * 1.5));
      assert.equal(rec.nodeIds(name).length, 1, 'a live registration does not expire');
      const crashedAt = Date.now();
      await target.crash(a);
      await rec.until((r) => r.nodeIds(name).length === 0, timing.expiry, 'delete after the crash');
      const elapsed = Date.now() - crashedAt;
      assert.ok(elapsed >= timing.ttl / 3 - 50, `not removed before its renewal was due (${elapsed} ms)`);
      assert.equal(rec.events.at(-1)?.type, 'delete');
    });

    it('rolling restart: a new registry takes a node id over at a new address; the old one closing leaves it', async (t) => {
      const [old, observer] = (await open(t, 2)) as [Registry, Registry];
      const successor = await (target.createBeside ? target.createBeside(old) : target.create());
      t.after(() => successor.close());
      const name = uniqueName('restart');
      const id = `${name}-api-1`;
      const host = hostOf(old);
      const before = `${host}:7801`;
      const after = `${host}:7802`;
      const addresses = (r: Recorder) => [...r.state.values()].flatMap((s) => s.nodes.filter((n) => n.id === id).map((n) => n.address));
      const rec = new Recorder(observer.watch({ service: name }));
      t.after(() => rec.stop());
      await rec.watcher.synced;
      await old.register(service(name, [{ id, port: 7801 }], '1.0.0', host));
      await rec.until((r) => addresses(r).join() === before, timing.propagation, 'the node at its first address');
      await successor.register(service(name, [{ id, port: 7802 }], '1.0.0', host));
      await rec.until((r) => addresses(r).join() === after, timing.propagation, 'the node at its new address');
      const once = async (when: string) => {
        const nodes = (await observer.getService(name)).flatMap((s) => s.nodes).filter((n) => n.id === id);
        assert.deepEqual(
          nodes.map((n) => n.address),
          [after],
          `${when}: getService shows the node once, at the new address`,
        );
      };
      await once('during the overlap');
      const closing = rec.events.length;
      await old.close();
      // The old registry's goodbye is sent; give it time to reach the observer if it (wrongly) removed the node.
      await new Promise((r) => setTimeout(r, timing.propagation));
      const removed = rec.events.slice(closing).filter((e) => e.type !== 'resync' && !e.service.nodes.some((n) => n.id === id));
      assert.deepEqual(
        removed.map((e) => e.type),
        [],
        'the old registry closing did not remove the node the new one owns',
      );
      assert.deepEqual(addresses(rec), [after], 'the watcher still shows the node once, at the new address');
      await once('after the old registry closed');
    });

    it(`concurrency: ${timing.concurrency} services registered at once are all found`, async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const prefix = uniqueName('many');
      const host = hostOf(a);
      const names = Array.from({ length: timing.concurrency }, (_, i) => `${prefix}-${i}`);
      await Promise.all(names.map((name, i) => a.register(service(name, [{ id: `${name}-n`, port: 10_000 + i }], '1.0.0', host))));
      await eventually(
        async () => (await b.listServices()).filter((s) => s.name.startsWith(`${prefix}-`)).length === names.length,
        timing.propagation * 4,
        'every service listed',
      );
      const found = await Promise.all(names.map((n) => b.getService(n)));
      assert.deepEqual(
        found.map((versions) => versions[0]?.nodes[0]?.id),
        names.map((n) => `${n}-n`),
      );
    });

    it('churn: the events a watcher replays equal the registry’s final state', async (t) => {
      const [a, b, c] = (await open(t, 3)) as [Registry, Registry, Registry];
      const prefix = uniqueName('churn');
      const names = [0, 1, 2].map((i) => `${prefix}-${i}`);
      const rec = new Recorder(c.watch());
      t.after(() => rec.stop());
      await rec.watcher.synced;
      const live = new Map<string, import('../../src/index.js').Registration>();
      let seed = 42;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < timing.churnOps; i++) {
        const owner = rand(2) === 0 ? a : b;
        const name = names[rand(names.length)] as string;
        const id = `${name}-node-${rand(4)}`;
        const version = rand(3) === 0 ? '2.0.0' : '1.0.0';
        const existing = live.get(id);
        if (existing && rand(2) === 0) {
          await existing.deregister();
          live.delete(id);
        } else {
          if (existing) await existing.deregister();
          live.set(
            id,
            await owner.register(service(name, [{ id, port: 20_000 + i, metadata: { op: String(i) } }], version, hostOf(owner))),
          );
        }
      }
      const inScope = (m: Map<string, string[]>) => new Map([...m].filter(([k]) => k.startsWith(prefix)));
      const expected = new Map<string, string[]>();
      for (const r of live.values()) {
        const k = `${r.service.name}@${r.service.version}`;
        expected.set(k, [...(expected.get(k) ?? []), ...r.service.nodes.map((n) => n.id)].sort());
      }
      const same = (x: Map<string, string[]>, y: Map<string, string[]>) => JSON.stringify([...x].sort()) === JSON.stringify([...y].sort());
      let truth = new Map<string, string[]>();
      // Registry and watcher may lag the last operations together (a goodbye's grace period, a
      // blocking query's round trip): wait until both reached the live registrations.
      await eventually(
        async () => {
          truth = await registryState(c, names);
          return same(truth, inScope(recordedState(rec))) && same(truth, expected);
        },
        timing.propagation * 4,
        'replayed state to equal the registry state and the live registrations',
      ).catch(() => {});
      assert.deepEqual([...inScope(recordedState(rec))].sort(), [...truth].sort(), 'the replayed events equal the registry state');
      assert.deepEqual([...truth].sort(), [...expected].sort(), 'the registry holds exactly the live registrations');
    });

    it('watch state: synced resolves for a watch nobody iterates; syncing, then live', async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName('state');
      await a.register(service(name, [{ id: `${name}-1`, port: 7801 }], '1.0.0', hostOf(a)));
      await eventually(async () => (await b.getService(name).catch(() => [])).length > 0, timing.propagation, 'the service visible');
      const watcher = b.watch({ service: name });
      t.after(() => watcher.stop());
      assert.ok(['syncing', 'live'].includes(watcher.state), `a new watch is syncing or live, not ${watcher.state}`);
      await within(watcher.synced, timing.propagation, 'synced of a watch nobody iterates');
      await eventually(() => watcher.state === 'live', timing.propagation, 'the watch to be live');
      const first = await within(watcher.next(), timing.propagation, 'the first event after synced');
      assert.ok(
        first.value?.type === 'create' && first.value.service.nodes[0]?.id === `${name}-1`,
        'the snapshot waited as the first event',
      );
      const stats = await statsOf(b);
      assert.equal(stats.watchersBlind, 0);
      assert.equal(stats.watchersSyncing, 0);
    });

    const blindness = target.blindness;
    if (blindness === 'never') {
      it('watch state: live from the first moment and never blind', async (t) => {
        const [a] = (await open(t, 1)) as [Registry];
        const watcher = a.watch();
        t.after(() => watcher.stop());
        const told: WatchState[] = [];
        watcher.on('state', (state) => told.push(state));
        assert.equal(watcher.state, 'live');
        const name = uniqueName('never');
        const reg = await a.register(service(name, [{ id: `${name}-1`, port: 7901 }], '1.0.0', hostOf(a)));
        await reg.deregister();
        await watcher.synced;
        assert.deepEqual(told, [], 'no state change');
        const stats = await statsOf(a);
        assert.deepEqual([stats.watchersBlind, stats.blindPeriods], [0, 0]);
      });
    } else {
      it('watch state: blind while the backend is unreachable, live again when it returns', {
        skip: blindness ? false : `${target.name} gives no way to cut its backend`,
      }, async (t) => {
        if (!blindness) return;
        const [a, b] = (await open(t, 2)) as [Registry, Registry];
        const name = uniqueName('blind');
        const rec = new Recorder(b.watch({ service: name }));
        t.after(() => rec.stop());
        const told: WatchState[] = [];
        rec.watcher.on('state', (state) => told.push(state));
        await rec.watcher.synced;
        await eventually(() => rec.watcher.state === 'live', timing.propagation, 'the watch to be live');
        await a.register(service(name, [{ id: `${name}-1`, port: 7911 }], '1.0.0', hostOf(a)));
        await rec.until((r) => r.nodeIds(name).length === 1, timing.propagation, 'create');

        let restored = false;
        t.after(async () => {
          if (!restored) await blindness.restore(b);
        });
        await blindness.cut(b);
        await eventually(() => rec.watcher.state === 'blind', blindness.notice, 'the watch to be blind');
        assert.ok(rec.watcher.blindReason instanceof RollcallError, 'a blind watch says why');
        const blind = await statsOf(b);
        assert.ok(
          blind.watchersBlind >= 1 && blind.blindPeriods >= 1,
          `stats count it: ${blind.watchersBlind} blind, ${blind.blindPeriods} periods`,
        );

        await blindness.restore(b);
        restored = true;
        await eventually(() => rec.watcher.state === 'live', blindness.notice, 'the watch to be live again');
        assert.equal(rec.watcher.blindReason, undefined);
        assert.deepEqual(told.slice(-2), ['blind', 'live'], `told: ${told.join(', ')}`);
        // It sees again: a change made after the return reaches it.
        await a.register(service(name, [{ id: `${name}-2`, port: 7912 }], '1.0.0', hostOf(a)));
        await rec.until((r) => r.nodeIds(name).includes(`${name}-2`), blindness.notice, 'a node registered after the return');
        assert.equal((await statsOf(b)).watchersBlind, 0);
      });
    }

    it('validation: bad input is rejected with a typed error naming the field, and nothing is stored', async (t) => {
      const [a] = (await open(t, 1)) as [Registry];
      const name = uniqueName('bad');
      const host = hostOf(a);
      const cases: Array<[string, unknown, string, RegExp]> = [
        ['empty name', { name: '', nodes: [{ address: `${host}:1` }] }, 'INVALID_SERVICE', /name/],
        ['no nodes', { name, nodes: [] }, 'INVALID_SERVICE', /nodes/],
        ['port 0', { name, nodes: [{ address: `${host}:0` }] }, 'INVALID_SERVICE', /port/],
        ['port 65536', { name, nodes: [{ address: `${host}:65536` }] }, 'INVALID_SERVICE', /port/],
        ['unbracketed IPv6', { name, nodes: [{ address: '::1:80' }] }, 'INVALID_SERVICE', /host:port/],
        ['numeric metadata', { name, nodes: [{ address: `${host}:1`, metadata: { n: 1 } }] }, 'INVALID_SERVICE', /metadata/],
        ['huge metadata value', { name, nodes: [{ address: `${host}:1`, metadata: { k: 'x'.repeat(100_000) } }] }, 'TOO_LARGE', /limit/],
        [
          'duplicate node ids',
          {
            name,
            nodes: [
              { id: 'n', address: `${host}:1` },
              { id: 'n', address: `${host}:2` },
            ],
          },
          'INVALID_SERVICE',
          /twice/,
        ],
      ];
      for (const [label, input, code, message] of cases) {
        await assert.rejects(
          a.register(input as never),
          (e) => isRollcallError(e, code as never) && message.test((e as Error).message),
          label,
        );
      }
      await assert.rejects(a.register(service(name, [{ id: 'ok', port: 1 }]), { ttl: -5 }), (e) => isRollcallError(e, 'INVALID_OPTIONS'));
      assert.equal((await a.listServices()).filter((s) => s.name === name).length, 0, 'nothing was stored');
    });
  });
}
