/**
 * The optional part of the conformance suite: tests of features an adapter may lack, each run on
 * every adapter whose target declares it and skipped (with the reason) on the others, as
 * unstorage's driver suite skips what a driver says it cannot do.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { Registry, Service } from '../../src/index.js';
import { applyEvent, eventually, service, uniqueName } from './helpers.js';
import type { ConformanceTarget } from './suite.js';

/** Features a conformance target says its adapter has. */
export interface ConformanceCapabilities {
  /** `members()` lists the cluster behind the registry (and `capabilities.members` says so). */
  members?: boolean;
  /**
   * The backend forgets a node another registry deregisters; the registration that kept it sees it
   * lost at its next heartbeat, puts it back and reports `lost` then `restored`.
   */
  lostRestored?: boolean;
  /**
   * A consumer that does not read while more (name, version)s change than its `maxPending` gets one
   * `resync` with the whole state. Every adapter built on the core's watcher has it.
   * @default true
   */
  resync?: boolean;
}

const hasName = (state: Map<string, Service>, name: string) => [...state.values()].some((s) => s.name === name);

type Open = (t: TestContext, count: number) => Promise<Registry[]>;

const skipUnless = (declared: boolean | undefined, what: string) => (declared ? {} : { skip: `the adapter does not declare ${what}` });

export function testCapabilities(target: ConformanceTarget, open: Open): void {
  const caps = target.capabilities ?? {};
  const { timing } = target;
  const hostOf = (r: Registry) => target.host?.(r) ?? '127.0.0.1';

  it('capabilities: the registry reports what the target declares', async (t) => {
    const [a] = (await open(t, 1)) as [Registry];
    assert.equal(a.capabilities.members, caps.members === true, 'capabilities.members');
  });

  it(
    'members: lists at least this process, each member with a name, an address and a status',
    skipUnless(caps.members, 'members()'),
    async (t) => {
      const [a] = (await open(t, 1)) as [Registry];
      const members = await (a.members as () => ReturnType<NonNullable<Registry['members']>>)();
      assert.ok(members.length >= 1, 'at least one member');
      for (const m of members) {
        assert.equal(typeof m.name, 'string');
        assert.ok(m.name.length > 0, 'a member has a name');
        assert.match(m.address, /:\d+$|^[\d.:a-f[\]]+$/i, `a member has an address (${m.address})`);
        assert.equal(typeof m.status, 'string');
      }
      assert.ok(Object.isFrozen(members) || Array.isArray(members));
    },
  );

  it(
    'lost/restored: a node the backend forgot is reported lost, put back and reported restored',
    skipUnless(caps.lostRestored, 'lost/restored'),
    async (t) => {
      const [a, b] = (await open(t, 2)) as [Registry, Registry];
      const name = uniqueName('lost');
      const input = service(name, [{ id: `${name}-1`, port: 7801 }], '1.0.0', hostOf(a));
      const reg = await a.register(input, { ttl: timing.ttl });
      const events: string[] = [];
      reg.on('lost', (error) => events.push(`lost ${error.code}`));
      reg.on('restored', () => events.push('restored'));
      await eventually(
        async () => (await b.getService(name, { timeout: timing.propagation }).catch(() => [])).length === 1,
        timing.propagation,
        'the node to be seen',
      );
      await b.deregister(input);
      await eventually(() => events.includes('restored'), timing.expiry, `lost then restored (saw ${events.join(', ') || 'nothing'})`);
      assert.deepEqual(events, ['lost UNAVAILABLE', 'restored']);
      await eventually(
        async () => ((await b.getService(name, { timeout: timing.propagation }).catch(() => []))[0]?.nodes.length ?? 0) === 1,
        timing.propagation,
        'the restored node to be seen again',
      );
    },
  );

  it('resync: a consumer that stops reading gets one resync with the whole state', skipUnless(caps.resync ?? true, 'resync'), async (t) => {
    const [a, b] = (await open(t, 2)) as [Registry, Registry];
    const prefix = uniqueName('resync');
    const names = Array.from({ length: 6 }, (_, i) => `${prefix}-${i}`);
    const watcher = b.watch({ maxPending: 2 });
    t.after(() => watcher.stop());
    await watcher.synced;
    // Nobody reads while six names appear: more than maxPending distinct changes.
    await Promise.all(names.map((n, i) => a.register(service(n, [{ id: `${n}-1`, port: 7900 + i }], '1.0.0', hostOf(a)))));
    // Lookups on the watching registry tell when the changes reached it (the watcher is not read).
    for (const n of names) {
      await eventually(
        async () => (await b.getService(n, { timeout: timing.propagation }).catch(() => [])).length > 0,
        timing.propagation,
        `${n} to reach the watching registry`,
      );
    }
    const first = await watcher.next();
    assert.equal(first.value?.type, 'resync', 'the first event after the overflow is a resync');
    // Replay the resync and what follows: the state converges to every name.
    const state = new Map<string, Service>();
    const deadline = Date.now() + timing.propagation;
    let event = first.value;
    while (event) {
      applyEvent(state, event);
      if (names.every((n) => hasName(state, n))) break;
      const next = await Promise.race([
        watcher.next(),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now()))),
      ]);
      event = next?.value;
    }
    for (const n of names) assert.ok(hasName(state, n), `the replayed state holds ${n}`);
    assert.ok(((await (target.stats ? target.stats(b) : b.stats())) as { resyncs: number }).resyncs >= 1, 'stats count the resync');
  });
}
