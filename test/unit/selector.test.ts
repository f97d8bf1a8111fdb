import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSelector, filterNodes, isRollcallError, normalizeService } from '../../src/index.js';

const v1 = normalizeService({
  name: 'g',
  version: '1',
  endpoints: [{ name: 'Say.Hello' }],
  nodes: [
    { id: 'a', address: '10.0.0.1:1', metadata: { zone: 'x' } },
    { id: 'b', address: '10.0.0.1:2', metadata: { zone: 'y' } },
  ],
});
const v2 = normalizeService({ name: 'g', version: '2', nodes: [{ id: 'c', address: '10.0.0.1:3', metadata: { zone: 'x' } }] });

describe('selector', () => {
  it('round-robin cycles through every node in a stable order', () => {
    const pick = createSelector({ strategy: 'round-robin' });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => pick([v1, v2]).id),
      ['a', 'b', 'c', 'a'],
    );
  });
  it('filters by version, metadata and endpoint', () => {
    assert.deepEqual(
      filterNodes([v1, v2], { version: '1' }).map((n) => n.id),
      ['a', 'b'],
    );
    assert.deepEqual(
      filterNodes([v1, v2], { metadata: { zone: 'x' } }).map((n) => n.id),
      ['a', 'c'],
    );
    assert.deepEqual(
      filterNodes([v1, v2], { endpoint: 'Say.Hello' }).map((n) => n.id),
      ['a', 'b'],
    );
  });
  it('random picks only matching nodes; none matching is NONE_AVAILABLE, no node at all NOT_FOUND', () => {
    const pick = createSelector({ metadata: { zone: 'y' } });
    for (let i = 0; i < 20; i++) assert.equal(pick([v1, v2]).id, 'b');
    assert.throws(
      () => createSelector({ version: '9' })([v1, v2]),
      (e) => isRollcallError(e, 'NONE_AVAILABLE'),
    );
    assert.throws(
      () => createSelector()([]),
      (e) => isRollcallError(e, 'NOT_FOUND'),
    );
  });
});
