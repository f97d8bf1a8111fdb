import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TIMER_DELAY } from '../../src/internal/clock.js';
import { SimulatedClock } from '../../src/internal/simulated-clock.js';

describe('SimulatedClock', () => {
  it('advance: runs due timers in time order, each at its own instant', () => {
    const clock = new SimulatedClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push('late'), 31);
    clock.advance(30);
    assert.deepEqual(seen, ['a@1010', 'b@1020', 'c@1030']);
    assert.equal(clock.now(), 1030);
    assert.equal(clock.pending, 1);
  });

  it('advance: equal due times keep creation order; a timer set inside the window runs too', () => {
    const clock = new SimulatedClock();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) clock.setTimeout(() => seen.push(i), 5);
    clock.setTimeout(() => clock.setTimeout(() => seen.push(99), 3), 1);
    clock.advance(5);
    assert.deepEqual(seen, [99, 0, 1, 2, 3, 4]);
  });

  it('cancel: a cancelled timer never runs and is not pending', () => {
    const clock = new SimulatedClock();
    let ran = false;
    const timer = clock.setTimeout(() => {
      ran = true;
    }, 10);
    timer.cancel();
    timer.cancel();
    assert.equal(clock.pending, 0);
    assert.equal(clock.nextDue(), undefined);
    clock.advance(100);
    assert.equal(ran, false);
  });

  it('clamp: a delay above the timer maximum waits the maximum, NaN and negatives run now', () => {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    clock.setTimeout(() => seen.push('huge'), 2 ** 40);
    clock.setTimeout(() => seen.push('nan'), Number.NaN);
    clock.setTimeout(() => seen.push('negative'), -5);
    clock.advance(0);
    assert.deepEqual(seen, ['nan', 'negative']);
    assert.equal(clock.nextDue(), MAX_TIMER_DELAY);
  });

  it('runFor: promise continuations run between timers, as on real time', async () => {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    clock.setTimeout(() => {
      Promise.resolve().then(() => seen.push('continuation of first'));
      seen.push('first');
    }, 10);
    clock.setTimeout(() => seen.push('second'), 10);
    await clock.runFor(10);
    assert.deepEqual(seen, ['first', 'continuation of first', 'second']);
  });

  it('runUntilIdle: drains an async chain of timers; throws on a timer that reschedules forever', async () => {
    const clock = new SimulatedClock();
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    let done = false;
    (async () => {
      for (let i = 0; i < 10; i++) await sleep(100);
      done = true;
    })();
    await clock.runUntilIdle();
    assert.equal(done, true);
    assert.equal(clock.now(), 1000);

    const tick = () => clock.setTimeout(tick, 1);
    tick();
    await assert.rejects(clock.runUntilIdle(50), /still busy after 50 timers/);
  });

  it('runUntil: stops as soon as the condition holds, or reports false at the deadline', async () => {
    const clock = new SimulatedClock();
    let count = 0;
    const tick = () => {
      count++;
      clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    assert.equal(await clock.runUntil(() => count === 3, 1000), true);
    assert.equal(clock.now(), 30);
    assert.equal(await clock.runUntil(() => count === 1000, 100), false);
    assert.equal(clock.now(), 130);
  });
});
