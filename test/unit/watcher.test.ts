import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service, WatchEvent } from '../../src/index.js';
import { normalizeService } from '../../src/service.js';
import { ServiceView } from '../../src/view.js';
import { applyEvent } from '../conformance/helpers.js';

function svc(name: string, version: string, ids: string[], meta = 'a'): Service {
  return normalizeService({ name, version, nodes: ids.map((id, i) => ({ id, address: `10.0.0.1:${1000 + i}`, metadata: { meta } })) });
}

async function drain(iter: AsyncIterator<WatchEvent>, count: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  for (let i = 0; i < count; i++) {
    const r = await iter.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('watcher', () => {
  it('snapshot: existing services come first as create events, then synced resolves', async () => {
    const view = new ServiceView({ adapter: 'test' });
    view.set(svc('a', '1', ['a1']));
    view.set(svc('b', '1', ['b1']));
    const w = view.watch();
    let synced = false;
    void w.synced.then(() => {
      synced = true;
    });
    const events = await drain(w, 2);
    assert.deepEqual(
      events.map((e) => e.type),
      ['create', 'create'],
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(synced, true);
    w.stop();
  });

  it('waiting consumer: each change is its own event, in order, also when a second change follows in the same turn', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch();
    await w.synced;
    const first = w.next();
    view.set(svc('a', '1', ['a1']));
    view.set(svc('a', '1', ['a1', 'a2']));
    const created = (await first).value as WatchEvent;
    assert.ok(created.type === 'create');
    assert.deepEqual(
      created.service.nodes.map((n) => n.id),
      ['a1'],
      'the event delivered at once carries the state of its own change',
    );
    const updated = (await w.next()).value as WatchEvent;
    assert.ok(updated.type === 'update');
    assert.deepEqual(
      updated.added.map((n) => n.id),
      ['a2'],
    );
    const third = w.next();
    view.set(svc('a', '1', []));
    const deleted = (await third).value as WatchEvent;
    assert.equal(deleted.type, 'delete');
    w.stop();
  });

  it('coalescing: a slow consumer gets one event per (name, version) carrying the final state', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch();
    await w.synced;
    for (let i = 0; i < 50; i++) view.set(svc('a', '1', [`a${i}`]));
    view.set(svc('b', '1', ['b1']));
    view.set(svc('b', '1', []));
    const events = await drain(w, 1);
    assert.equal(events.length, 1);
    const [e] = events;
    assert.ok(e && e.type === 'create');
    assert.deepEqual(
      e.service.nodes.map((n) => n.id),
      ['a49'],
    );
    // b appeared and vanished while the consumer was away: nothing to report.
    const next = await Promise.race([w.next(), new Promise((r) => setTimeout(() => r('idle'), 20))]);
    assert.equal(next, 'idle');
    w.stop();
  });

  it('update: carries added, updated and removed nodes', async () => {
    const view = new ServiceView({ adapter: 'test' });
    view.set(svc('a', '1', ['x', 'y']));
    const w = view.watch();
    await drain(w, 1);
    view.set(
      normalizeService({
        name: 'a',
        version: '1',
        nodes: [
          { id: 'y', address: '10.0.0.1:1001', metadata: { meta: 'changed' } },
          { id: 'z', address: '10.0.0.1:1002', metadata: { meta: 'a' } },
        ],
      }),
    );
    const [e] = await drain(w, 1);
    assert.ok(e && e.type === 'update');
    assert.deepEqual(
      e.added.map((n) => n.id),
      ['z'],
    );
    assert.deepEqual(
      e.updated.map((n) => n.id),
      ['y'],
    );
    assert.deepEqual(
      e.removed.map((n) => n.id),
      ['x'],
    );
    w.stop();
  });

  it('resync: past maxPending the consumer gets one resync with the full state, and memory stays bounded', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch({ maxPending: 10 });
    await w.synced;
    const state = new Map<string, Service>();
    for (let i = 0; i < 1000; i++) view.set(svc(`s${i}`, '1', [`n${i}`]));
    for (let i = 0; i < 1000; i += 2) view.set(svc(`s${i}`, '1', []));
    const [e] = await drain(w, 1);
    assert.ok(e && e.type === 'resync');
    applyEvent(state, e);
    assert.equal(state.size, 500);
    view.set(svc('late', '1', ['l']));
    const [after] = await drain(w, 1);
    assert.equal(after?.type, 'create');
    w.stop();
  });

  it('never blocks the producer: 100,000 changes to a consumer that never reads leave one resync, not a queue', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch({ maxPending: 100 });
    await w.synced;
    for (let i = 0; i < 100_000; i++) view.set(svc(`s${i % 500}`, '1', [`n${i}`]));
    const [first] = await drain(w, 1);
    assert.ok(first && first.type === 'resync', 'the backlog collapsed into one resync');
    assert.equal(first.services.length, 500);
    assert.deepEqual(first.services.find((s) => s.name === 's499')?.nodes[0]?.id, 'n99999');
    const next = await Promise.race([w.next(), new Promise((r) => setTimeout(() => r('idle'), 20))]);
    assert.equal(next, 'idle', 'nothing else was queued');
    w.stop();
  });

  it('stop: ends a pending next(), and the watcher leaves the hub', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch({ service: 'a' });
    assert.equal(view.hub.size, 1);
    const pending = w.next();
    w.stop();
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.equal(view.hub.size, 0);
  });

  it('interest: the backend query opens with the watcher and is released when iteration ends', async () => {
    let opened = 0;
    let released = 0;
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch({ service: 'a' }, undefined, () => {
      opened++;
      return { ready: Promise.resolve(), release: () => released++ };
    });
    assert.equal(opened, 1);
    await w.return?.();
    await w.return?.();
    assert.equal(released, 1);
  });

  it('abort: an aborted signal ends the iteration without an error', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const controller = new AbortController();
    const w = view.watch({ signal: controller.signal });
    const pending = w.next();
    controller.abort();
    assert.equal((await pending).done, true);
  });

  it('failure: a backend failure ends the iteration with its error', async () => {
    const view = new ServiceView({ adapter: 'test' });
    const w = view.watch({ service: 'a' }, undefined, () => ({ ready: Promise.reject(new Error('denied')), release() {} }));
    await assert.rejects(w.next(), /denied/);
  });
});
