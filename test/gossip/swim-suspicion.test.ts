// Suspicion timers and the awareness score on a simulated clock: when a suspect is declared dead
// for every number of confirmations, and how local health stretches probe timing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Awareness } from '../../src/adapters/gossip/swim/awareness.js';
import { Suspicion } from '../../src/adapters/gossip/swim/suspicion.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';

/** Starts a suspicion at t = 0 and reports when (and with how many confirmations) it fired. */
function start(k: number, min: number, max: number) {
  const clock = new SimulatedClock(0);
  const fired: { at: number; confirmations: number }[] = [];
  const s = new Suspicion(clock, 'accuser', k, min, max, (confirmations) => fired.push({ at: clock.now(), confirmations }));
  return { clock, s, fired };
}

describe('suspicion', () => {
  it('timer: no confirmations waits the maximum', () => {
    const { clock, fired } = start(2, 4000, 24000);
    clock.advance(23_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [{ at: 24_000, confirmations: 0 }]);
  });

  it('timer: zero k uses the minimum from the start', () => {
    const { clock, fired } = start(0, 4000, 24000);
    clock.advance(4000);
    assert.deepEqual(fired, [{ at: 4000, confirmations: 0 }]);
  });

  it('timer: each confirmation shortens the total as memberlist computes it', () => {
    // lan preset, n = 10: 24 s alone, 11.381 s with one confirmation, 4 s with two.
    const { clock, s, fired } = start(2, 4000, 24000);
    clock.advance(1000);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.deadline, 11_381);
    clock.advance(10_380);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [{ at: 11_381, confirmations: 1 }]);
  });

  it('timer: a confirmation past the new deadline fires at once', () => {
    const { clock, s, fired } = start(2, 4000, 24000);
    clock.advance(5000);
    s.confirm('b');
    clock.advance(5000);
    assert.equal(fired.length, 0);
    s.confirm('c'); // the total is now 4 s, already 10 s gone
    clock.advance(0);
    assert.deepEqual(fired, [{ at: 10_000, confirmations: 2 }]);
  });

  it('confirm: the first accuser and repeats do not count, nor anything past k', () => {
    const { s } = start(2, 4000, 24000);
    assert.equal(s.confirm('accuser'), false);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('b'), false);
    assert.equal(s.confirm('c'), true);
    assert.equal(s.confirm('d'), false);
    assert.equal(s.confirmations, 2);
  });

  it('cancel: a refuted suspicion never fires', () => {
    const { clock, s, fired } = start(2, 4000, 24000);
    s.cancel();
    clock.advance(100_000);
    assert.deepEqual(fired, []);
    assert.equal(s.confirm('b'), false);
  });
});

describe('awareness', () => {
  it('score: clamped to 0 .. max - 1', () => {
    const a = new Awareness(8);
    assert.equal(a.applyDelta(-1), false);
    assert.equal(a.score, 0);
    for (let i = 0; i < 20; i++) a.applyDelta(1);
    assert.equal(a.score, 7);
    assert.equal(a.applyDelta(1), false);
    a.applyDelta(-3);
    assert.equal(a.score, 4);
  });

  it('scaleTimeout: timeout × (score + 1)', () => {
    const a = new Awareness(8);
    assert.equal(a.scaleTimeout(1000), 1000);
    a.applyDelta(2);
    assert.equal(a.scaleTimeout(1000), 3000);
    a.applyDelta(100);
    assert.equal(a.scaleTimeout(500), 4000);
  });

  it('rejects a cap below one', () => {
    assert.throws(() => new Awareness(0), RangeError);
  });
});
