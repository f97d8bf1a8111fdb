/**
 * The memberlist profile's push/pull state (state.ts): Go Micro's `map[name][]Service`, each
 * Service stamped with an `x-rollcall` key Go ignores; Go Micro's own state (no stamps) is read too,
 * and bad entries are dropped one by one. Go reading it is tested against the real peer in
 * registry-go-micro.test.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeState, encodeState, STATE_STAMP_KEY } from '../../src/adapters/gossip/registry/state.js';
import { isRollcallError } from '../../src/index.js';
import { normalizeService } from '../../src/service.js';

const a1 = normalizeService({ name: 'a', version: '1', nodes: [{ id: 'a-1', address: '10.0.0.1:1' }] });
const a2 = normalizeService({ name: 'a', version: '1', nodes: [{ id: 'a-2', address: '10.0.0.2:1' }] });
const b1 = normalizeService({ name: 'b<&>', nodes: [{ id: 'b-1', address: '10.0.0.3:1' }] });

it("state: ours round-trips with stamps, in Go Micro's map[name][]Service shape", () => {
  const bytes = encodeState([
    { origin: 'm1', seq: 7, claim: 3, remaining: 1234.2, service: a1 },
    { origin: '', seq: 1, claim: 0, remaining: 50, service: a2 },
    { origin: 'm2', seq: 9, claim: 4, remaining: 10, service: b1 },
  ]);
  const raw = JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown[]>;
  assert.deepEqual(Object.keys(raw), ['a', 'b<&>']);
  assert.equal(raw.a?.length, 2);
  assert.ok(!Buffer.from(bytes).toString().includes('<'), "Go's HTML-safe escapes");
  const { entries, dropped } = decodeState(bytes);
  assert.equal(dropped, 0);
  assert.deepEqual(
    entries.map((e) => [e.service.nodes[0]?.id, e.stamp]),
    [
      ['a-1', { origin: 'm1', seq: 7, claim: 3, remaining: 1235 }],
      ['a-2', { origin: '', seq: 1, claim: 0, remaining: 50 }],
      ['b-1', { origin: 'm2', seq: 9, claim: 4, remaining: 10 }],
    ],
  );
  assert.deepEqual(entries[0]?.service, a1);
});

it("state: Go Micro's (no stamps, nil map) is read; bad entries are dropped and counted, the rest kept", () => {
  const go = JSON.stringify({
    a: [{ name: 'a', version: '1', metadata: null, endpoints: null, nodes: [{ id: 'a-1', address: '10.0.0.1:1', metadata: null }] }],
  });
  const read = decodeState(Buffer.from(go));
  assert.equal(read.entries.length, 1);
  assert.equal(read.entries[0]?.stamp, undefined);
  assert.deepEqual(decodeState(Buffer.from('null')), { entries: [], dropped: 0 });
  const good = { name: 'a', nodes: [{ id: 'a-1', address: '10.0.0.1:1' }] };
  const bad = JSON.stringify({
    a: [
      good,
      { ...good, [STATE_STAMP_KEY]: { o: 'm', s: -1, c: 0, t: 1 } },
      { ...good, [STATE_STAMP_KEY]: { o: 5, s: 1, c: 0, t: 1 } },
      { ...good, [STATE_STAMP_KEY]: 'x' },
      { ...good, name: 'other' },
      null,
      { name: 'a', nodes: [{ id: '', address: 'nope' }] },
    ],
    b: 'not a list',
  });
  const mixed = decodeState(Buffer.from(bad));
  assert.equal(mixed.entries.length, 1);
  assert.equal(mixed.dropped, 7);
  for (const text of ['[1]', '"x"', '{', '\xff'])
    assert.throws(
      () => decodeState(Buffer.from(text, 'latin1')),
      (e) => isRollcallError(e, 'INVALID_SERVICE'),
    );
});
