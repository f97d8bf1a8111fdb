/**
 * The registration lifecycle every adapter gets from the core: goodbye order (remove, then stop),
 * takeovers, and `rollcall:deregister` for every way this process removes a node.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { channels, createRegistry, type Service } from '../../src/index.js';
import { createLedgerRegistry } from './ledger-adapter.js';

function recordDeregisters(): { ids: string[][]; [Symbol.dispose](): void } {
  const ids: string[][] = [];
  const listener = (message: unknown) => ids.push((message as { service: Service }).service.nodes.map((n) => n.id));
  subscribe('rollcall:deregister', listener);
  return { ids, [Symbol.dispose]: () => unsubscribe('rollcall:deregister', listener) };
}

describe('registration lifecycle', () => {
  it('diagnostics: rollcall:deregister fires for registry.deregister, registration.deregister and close', async () => {
    using seen = recordDeregisters();
    const registry = await createRegistry({ kind: 'memory' });
    const a = await registry.register({ name: 'lc', nodes: [{ id: 'lc-a', address: '10.0.0.1:1' }] });
    await registry.register({ name: 'lc', nodes: [{ id: 'lc-b', address: '10.0.0.2:1' }] });
    await registry.register({ name: 'lc', nodes: [{ id: 'lc-c', address: '10.0.0.3:1' }] });
    await a.deregister();
    await registry.deregister({ name: 'lc', nodes: [{ id: 'lc-b', address: '10.0.0.2:1' }] });
    await registry.close();
    assert.deepEqual(seen.ids, [['lc-a'], ['lc-b'], ['lc-c']]);
    assert.equal(channels.deregister.name, 'rollcall:deregister');
  });

  it('goodbye order: remove runs first, then stop (handle and registry deregister); a takeover stops without a goodbye', async () => {
    const { registry, ledger } = createLedgerRegistry();
    const one = await registry.register({ name: 'order', nodes: [{ id: 'n1', address: '10.0.0.1:1' }] });
    await one.deregister();
    assert.deepEqual(ledger.splice(0), ['put n1', 'remove n1', 'stop n1']);
    await registry.register({ name: 'order', nodes: [{ id: 'n2', address: '10.0.0.1:1' }] });
    await registry.register({ name: 'order', nodes: [{ id: 'n2', address: '10.0.0.2:1' }] });
    assert.deepEqual(ledger.splice(0), ['put n2', 'put n2', 'stop n2'], 'the first handle let go of its node without a goodbye');
    await registry.deregister({ name: 'order', nodes: [{ id: 'n2', address: '10.0.0.2:1' }] });
    assert.deepEqual(ledger.splice(0), ['deregister n2', 'stop n2'], 'an explicit deregister says goodbye before the handle lets go');
    await registry.register({ name: 'order', nodes: [{ id: 'n3', address: '10.0.0.3:1' }] });
    await registry.close();
    assert.deepEqual(ledger.splice(0), ['put n3', 'remove n3', 'stop n3', 'shutdown']);
  });

  it('takeover: re-registering nodes moves them between handles, one node at a time', async () => {
    const registry = await createRegistry({ kind: 'memory' });
    const first = await registry.register({
      name: 'mv',
      nodes: [
        { id: 'mv-1', address: '10.0.0.1:1' },
        { id: 'mv-2', address: '10.0.0.2:1' },
      ],
    });
    const second = await registry.register({ name: 'mv', nodes: [{ id: 'mv-2', address: '10.0.0.9:1' }] });
    assert.deepEqual(
      first.service.nodes.map((n) => n.id),
      ['mv-1'],
    );
    assert.equal(registry.stats().registrations, 2);
    await first.deregister();
    const [svc] = await registry.getService('mv');
    assert.deepEqual(
      svc?.nodes.map((n) => `${n.id}@${n.address}`),
      ['mv-2@10.0.0.9:1'],
      "the first handle's goodbye did not touch the node it lost",
    );
    await registry.deregister({ name: 'mv', nodes: [{ id: 'mv-2', address: '10.0.0.9:1' }] });
    assert.equal(registry.stats().registrations, 0, 'an explicit deregister ends the handle that kept the node');
    await second.deregister();
    await registry.close();
  });
});
