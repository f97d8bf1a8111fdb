/** names.ts: any node id or service name becomes a label within 63 bytes, without collisions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  foldName,
  isPlainLabel,
  MAX_LABEL_BYTES,
  nameProblem,
  renameAttempt,
  renamedLabel,
  safeLabel,
  subtypeLabel,
  utf8Truncate,
} from '../../src/adapters/mdns/names.js';

const anyName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 255 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
  fc.stringMatching(/^[a-z0-9.-]{1,255}$/),
);

describe('names: labels', () => {
  it('label: a plain id is used as is', () => {
    assert.equal(safeLabel('greeter-1'), 'greeter-1');
    assert.equal(safeLabel('Grüße 東京'), 'Grüße 東京');
  });

  it('label: dotted, long and unicode ids fit 63 bytes, hold no dot, and keep a readable prefix', () => {
    for (const id of ['go.micro.srv.greeter-1', 'x'.repeat(255), '東京'.repeat(40), 'a\\b', 'tab\there']) {
      const label = safeLabel(id);
      assert.ok(Buffer.byteLength(label) <= MAX_LABEL_BYTES, label);
      assert.ok(isPlainLabel(label), label);
      assert.equal(nameProblem(`${label}._rollcall._tcp.local`), undefined);
    }
    assert.match(safeLabel('go.micro.srv.greeter-1'), /^go-micro-srv-greeter-1~[a-z2-7]{10}$/);
  });

  it('label (fuzz): always within 63 bytes, never splits a character, distinct inputs give distinct labels', () => {
    fc.assert(
      fc.property(anyName, anyName, (a, b) => {
        const la = safeLabel(a);
        assert.ok(Buffer.byteLength(la) <= MAX_LABEL_BYTES && la.length > 0);
        assert.ok(!la.includes('.'));
        assert.ok(!la.includes('\uFFFD') || a.includes('\uFFFD'), 'no broken UTF-8');
        if (a !== b) assert.notEqual(la, safeLabel(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('label (fuzz): names that differ only beyond 63 bytes or in a dot still get different labels', () => {
    const base = 'n'.repeat(80);
    assert.notEqual(safeLabel(`${base}a`), safeLabel(`${base}b`));
    assert.notEqual(safeLabel('a.b'), safeLabel('a-b'));
  });

  it('subtype: one label under 63 bytes for any service name', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const label = subtypeLabel(name);
        assert.ok(label.startsWith('_') && Buffer.byteLength(label) <= MAX_LABEL_BYTES && !label.includes('.'));
      }),
    );
    assert.equal(subtypeLabel('greeter'), '_greeter');
  });

  it('rename: "Name (2)", "Name (3)"... within 63 bytes', () => {
    assert.equal(renamedLabel('printer', 2), 'printer (2)');
    assert.equal(renamedLabel('printer (2)', 3), 'printer (3)');
    assert.equal(renameAttempt('printer (7)'), 7);
    assert.equal(renameAttempt('printer'), 1);
    const long = renamedLabel('é'.repeat(40), 12);
    assert.ok(Buffer.byteLength(long) <= MAX_LABEL_BYTES && long.endsWith(' (12)'));
  });

  it('utf8Truncate: never cuts inside a character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), fc.nat(80), (s, n) => {
        const t = utf8Truncate(s, n);
        assert.ok(Buffer.byteLength(t) <= n && s.startsWith(t));
        assert.equal(Buffer.from(t).toString(), t);
      }),
    );
  });

  it('fold: ASCII case and the root dot only (RFC 6762 §16)', () => {
    assert.equal(foldName('Greeter._Rollcall._tcp.local.'), 'greeter._rollcall._tcp.local');
    assert.equal(foldName('ÄB.local'), 'Äb.local');
    // Letter by letter: only A-Z change, whatever else the name holds.
    const asciiOnly = (s: string) => [...s].map((c) => (c >= 'A' && c <= 'Z' ? c.toLowerCase() : c)).join('');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('A', 'z', '.', 'Ä', 'ß', 'İ', 'K', '-', '1') }), (s) => {
        const trimmed = s.endsWith('.') ? s.slice(0, -1) : s;
        assert.equal(foldName(s), asciiOnly(trimmed));
      }),
      { numRuns: 2000 },
    );
  });

  it('nameProblem: empty labels, long labels and long names', () => {
    assert.match(nameProblem('a..b') ?? '', /empty label/);
    assert.match(nameProblem(`${'x'.repeat(64)}.local`) ?? '', /63/);
    assert.match(nameProblem(`${'abcdefgh.'.repeat(30)}local`) ?? '', /255/);
    assert.equal(nameProblem('node-1.go.micro.srv.greeter.micro.'), undefined);
  });
});
