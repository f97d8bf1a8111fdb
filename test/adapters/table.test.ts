/**
 * The conformance suite on an adapter that is not shipped: registered through registerAdapter()
 * like the built-in ones, created through createRegistry() by kind and by URL.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { availableKinds, createRegistry, parseRegistryUrl, registerAdapter } from '../../src/index.js';
import { testRegistry } from '../conformance/suite.js';
import { crashTable, tableAdapter } from '../fixtures/table-adapter.js';

registerAdapter(tableAdapter);
const table = `conformance-${process.pid}`;

it('registerAdapter: the kind is available by option and by URL', async () => {
  assert.ok(availableKinds().includes('table'));
  assert.deepEqual(parseRegistryUrl('table://shared'), { kind: 'table', options: { name: 'shared' } });
  const registry = await createRegistry('table://by-url');
  assert.equal(registry.kind, 'table');
  await registry.close();
});

testRegistry({
  name: 'table (a test adapter registered through registerAdapter)',
  create: () => createRegistry({ kind: 'table', name: table }),
  crash: async (registry) => crashTable(registry),
  capabilities: { members: true, lostRestored: true },
  blindness: 'never',
  timing: { ttl: 300, propagation: 1_000, expiry: 1_500, concurrency: 100, churnOps: 200 },
});
