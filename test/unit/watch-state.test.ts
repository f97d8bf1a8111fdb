/**
 * A watcher's state (syncing, live, blind) as the view's hub drives it, and `synced` for a watch
 * nobody iterates. The adapters' own signals are tested against real backends in the
 * conformance suite; here the hub is driven directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRegistry, RollcallError, type Service, type WatchState } from '../../src/index.js';
import { normalizeService } from '../../src/service.js';
import { ServiceView } from '../../src/view.js';
import type { WatchInterest } from '../../src/watcher.js';

function svc(name: string, id: string): Service {
  return normalizeService({ name, version: '1', nodes: [{ id, address: `10.0.0.1:1000` }] });
}

/** Rejects with `what` if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A backend whose first answer comes when the test says so. */
function manualInterest(): { interest: () => WatchInterest; answer: () => void } {
  let answer!: () => void;
  const ready = new Promise<void>((resolve) => {
    answer = resolve;
  });
  return { interest: () => ({ ready, release() {} }), answer: () => answer() };
}

const unreachable = () => new RollcallError('UNAVAILABLE', 'cannot reach the backend');

describe('watch state', () => {
  it('synced resolves for a watch nobody iterates, and the snapshot then waits as the first events', async (t) => {
    const registry = await createRegistry({ kind: 'memory', name: `watch-state-${process.pid}-1` });
    t.after(() => registry.close());
    await registry.register({ name: 'greeter', nodes: [{ id: 'g1', address: '10.0.0.1:80' }] });
    const watcher = registry.watch({ service: 'greeter' });
    t.after(() => watcher.stop());
    await within(watcher.synced, 2_000, 'synced of a watch nobody iterates');
    const first = await within(watcher.next(), 2_000, 'the first event after synced');
    assert.equal(first.done, false);
    assert.ok(first.value?.type === 'create' && first.value.service.nodes[0]?.id === 'g1', 'the snapshot is the first event');
  });

  it('a watcher already iterating is synced once the snapshot was handed over, not before', async () => {
    const view = new ServiceView({ adapter: 'test' });
    view.set(svc('a', 'a1'));
    view.set(svc('b', 'b1'));
    const watcher = view.watch();
    let synced = false;
    void watcher.synced.then(() => {
      synced = true;
    });
    await watcher.next();
    await new Promise((r) => setImmediate(r));
    assert.equal(synced, false, 'one of two snapshot events is still with the watcher');
    await watcher.next();
    await new Promise((r) => setImmediate(r));
    assert.equal(synced, true);
    watcher.stop();
  });

  it('memory: live from the first moment, never told anything else', async (t) => {
    const registry = await createRegistry({ kind: 'memory', name: `watch-state-${process.pid}-2` });
    t.after(() => registry.close());
    const watcher = registry.watch();
    const told: WatchState[] = [];
    watcher.on('state', (state) => told.push(state));
    assert.equal(watcher.state, 'live');
    assert.equal(watcher.blindReason, undefined);
    await registry.register({ name: 'x', nodes: [{ address: '10.0.0.1:80' }] });
    await watcher.synced;
    assert.deepEqual(told, []);
    const stats = registry.stats();
    assert.deepEqual([stats.watchersSyncing, stats.watchersBlind, stats.blindPeriods], [0, 0, 0]);
    watcher.stop();
  });

  it('syncing until the backend answers, then live; listeners are told each change', async () => {
    const backend = manualInterest();
    const view = new ServiceView({ adapter: 'test' });
    const watcher = view.watch({ service: 'a' }, undefined, backend.interest);
    const told: WatchState[] = [];
    watcher.on('state', (state) => told.push(state));
    assert.equal(watcher.state, 'syncing');
    backend.answer();
    await watcher.synced;
    assert.equal(watcher.state, 'live');
    assert.deepEqual(told, ['live']);
    watcher.stop();
  });

  it('blind while the backend cannot be read, with the reason; back to live, or to syncing if it never answered', async () => {
    const backend = manualInterest();
    const answered = new ServiceView({ adapter: 'test' });
    const live = answered.watch();
    const waiting = new ServiceView({ adapter: 'test' });
    const pending = waiting.watch({}, undefined, backend.interest);
    const told: Array<[WatchState, string | undefined]> = [];
    live.on('state', (state, reason) => told.push([state, reason?.code]));
    await live.synced;

    const reason = unreachable();
    answered.hub.setBlind(reason);
    waiting.hub.setBlind(reason);
    assert.equal(live.state, 'blind');
    assert.equal(live.blindReason, reason);
    assert.equal(pending.state, 'blind');
    answered.hub.setBlind(unreachable());
    assert.deepEqual(told, [['blind', 'UNAVAILABLE']], 'a second failure while blind tells nothing new');
    assert.equal(answered.hub.blindPeriods, 1);

    // A watcher opened while blind starts blind.
    const late = answered.watch({ service: 'late' });
    assert.equal(late.state, 'blind');

    answered.hub.setBlind(undefined);
    waiting.hub.setBlind(undefined);
    assert.equal(live.state, 'live');
    assert.equal(live.blindReason, undefined);
    assert.equal(late.state, 'live');
    assert.equal(pending.state, 'syncing', 'a watch the backend never answered is syncing, not live');
    assert.deepEqual(told, [
      ['blind', 'UNAVAILABLE'],
      ['live', undefined],
    ]);
    backend.answer();
    await pending.synced;
    assert.equal(pending.state, 'live');
    for (const w of [live, pending, late]) w.stop();
  });

  it('a listener that throws does not keep the others from being told', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const first = view.watch();
    const second = view.watch();
    first.on('state', () => {
      throw new Error('listener bug');
    });
    let told: WatchState | undefined;
    second.on('state', (state) => {
      told = state;
    });
    // The test runner reports any uncaught exception as a failure: stand in for it meanwhile.
    const runners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    try {
      view.hub.setBlind(unreachable());
      assert.equal(told, 'blind');
      assert.equal((await uncaught).message, 'listener bug', 'the listener’s exception surfaces as uncaught');
    } finally {
      for (const listener of runners) process.on('uncaughtException', listener);
    }
    first.stop();
    second.stop();
  });

  it('a stopped watcher keeps its last state and tells nothing more', () => {
    const view = new ServiceView({ adapter: 'test' });
    const watcher = view.watch();
    let told = 0;
    watcher.on('state', () => told++);
    watcher.stop();
    view.hub.setBlind(unreachable());
    assert.equal(watcher.state, 'live');
    assert.equal(told, 0);
  });
});
