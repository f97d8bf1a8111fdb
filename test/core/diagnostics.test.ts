/** Every diagnostics channel is declared in one exported object and publishes its documented message. */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { channels, createRegistry, type DiagnosticsMessages } from '../../src/index.js';

describe('diagnostics', () => {
  it('channels: one object holds every rollcall channel', () => {
    assert.deepEqual(
      Object.values(channels).map((c) => c.name),
      [
        'rollcall:register',
        'rollcall:deregister',
        'rollcall:watch:event',
        'rollcall:watch:resync',
        'rollcall:drop',
        'rollcall:backend:error',
      ],
    );
  });

  it('messages: register, watch events, resync and deregister carry the adapter and their subject', async () => {
    const seen: string[] = [];
    const listeners = {
      register: (m: unknown) => seen.push(`register ${(m as DiagnosticsMessages['register']).service.name}`),
      deregister: (m: unknown) => seen.push(`deregister ${(m as DiagnosticsMessages['deregister']).service.nodes[0]?.id}`),
      watchEvent: (m: unknown) => seen.push(`event ${(m as DiagnosticsMessages['watchEvent']).event.type}`),
      watchResync: (m: unknown) => seen.push(`resync ${(m as DiagnosticsMessages['watchResync']).adapter}`),
    };
    for (const [name, fn] of Object.entries(listeners)) subscribe(channels[name as keyof typeof listeners].name, fn);
    try {
      const registry = await createRegistry({ kind: 'memory' });
      const watcher = registry.watch({ maxPending: 1 });
      const first = watcher.next();
      await registry.register({ name: 'd1', nodes: [{ id: 'd1-1', address: '10.0.0.1:1' }] });
      await first;
      // Two changes while nobody reads, past maxPending: one resync.
      await registry.register({ name: 'd2', nodes: [{ id: 'd2-1', address: '10.0.0.2:1' }] });
      await registry.register({ name: 'd3', nodes: [{ id: 'd3-1', address: '10.0.0.3:1' }] });
      await watcher.next();
      watcher.stop();
      await registry.close();
    } finally {
      for (const [name, fn] of Object.entries(listeners)) unsubscribe(channels[name as keyof typeof listeners].name, fn);
    }
    // The waiting consumer gets its event while the registration is stored, before register() returns.
    assert.deepEqual(seen, [
      'event create',
      'register d1',
      'register d2',
      'register d3',
      'resync memory',
      'event resync',
      'deregister d1-1',
      'deregister d2-1',
      'deregister d3-1',
    ]);
  });
});
