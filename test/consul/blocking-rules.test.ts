/** The pure rules of the blocking-query loop: index handling, backoff and the token bucket. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BlockingQuery, backoffDelay, nextIndex, TokenBucket } from '../../src/adapters/consul/blocking.js';

describe('blocking: index rules', () => {
  test('index: table', () => {
    const cases: Array<[sent: number, returned: number, next: number, why: string]> = [
      [0, 0, 1, 'never 0 after the first answer'],
      [0, 42, 42, 'first answer'],
      [42, 42, 42, 'wait expired without change'],
      [42, 43, 43, 'moved forward'],
      [42, 7, 0, 'went backwards: reset to 0 for a full, immediate read'],
      [1, 0, 0, 'backwards to 0: reset'],
      [0, 1, 1, 'index 1'],
    ];
    for (const [sent, returned, next, why] of cases) assert.equal(nextIndex(sent, returned), next, why);
  });

  test('index: property: never below 1 unless it went backwards, never above what Consul returned', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (sent, returned) => {
        const next = nextIndex(sent, returned);
        if (returned < sent) assert.equal(next, 0);
        else assert.equal(next, Math.max(1, returned));
      }),
    );
  });
});

describe('blocking: backoff', () => {
  test('backoff: doubles from the base, capped, with half of it random', () => {
    const policy = { base: 100, max: 15_000 };
    assert.equal(
      backoffDelay(1, policy, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(1, policy, () => 1),
      100,
    );
    assert.equal(
      backoffDelay(4, policy, () => 1),
      800,
    );
    assert.equal(
      backoffDelay(50, policy, () => 1),
      15_000,
    );
    assert.equal(
      backoffDelay(50, policy, () => 0),
      7_500,
    );
    assert.equal(
      backoffDelay(10_000, policy, () => 0.5),
      11_250,
    );
  });

  test('backoff: property: within [exp/2, exp] and never 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, { base: 100, max: 15_000 }, () => r);
        const exp = Math.min(15_000, 100 * 2 ** Math.min(30, attempt - 1));
        assert.ok(d >= exp / 2 && d <= exp && d > 0);
      }),
    );
  });
});

describe('blocking: token bucket', () => {
  test('bucket: a burst of capacity, then the refill rate', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 10, () => now);
    assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [0, 0, 0]);
    assert.equal(bucket.tryTake(), 100);
    now = 50;
    assert.equal(bucket.tryTake(), 50);
    now = 100;
    assert.equal(bucket.tryTake(), 0);
    now = 10_000;
    assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake() > 0], [0, 0, 0, true]);
  });

  test('bucket: property: n takes over t ms never exceed capacity + rate * t', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 200 }), (steps) => {
        let now = 0;
        const bucket = new TokenBucket(5, 20, () => now);
        let taken = 0;
        for (const step of steps) {
          now += step;
          if (bucket.tryTake() === 0) taken++;
        }
        assert.ok(taken <= 5 + (20 * now) / 1_000 + 1e-9);
      }),
    );
  });
});

describe('blocking: loop', () => {
  test('loop: sends the index rules, backs off on errors, stops at once', async () => {
    const sent: number[] = [];
    const answers: Array<number | Error> = [5, 9, 3, 8, new Error('boom'), 4];
    const errors: number[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const loop = new BlockingQuery<string>({
      label: 'test',
      wait: 60_000,
      backoff: { base: 1, max: 2 },
      fetch: async (index, signal) => {
        sent.push(index);
        const next = answers.shift();
        if (next === undefined) {
          resolveDone();
          // Blocks like a real query until the loop is stopped.
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
        }
        if (next instanceof Error) throw next;
        return { data: `at ${next}`, index: next };
      },
      onData: () => true,
      onError: (_e, attempt) => errors.push(attempt),
    }).start();
    await done;
    loop.stop();
    await loop.done();
    // Backwards (3 after 9) resets to 0; so does the failure of the query sent with 8: the agent
    // may have restarted with indexes below ours.
    assert.deepEqual(sent, [0, 5, 9, 0, 8, 0, 4]);
    assert.deepEqual(errors, [1]);
    assert.equal(loop.stopped, true);
  });

  test('loop: a server waking it at once with new indexes is held to the rate limits', async () => {
    // The bounds follow the time the loop really ran (a timer fires late on a busy machine), so
    // the test checks the rate, not the scheduler: at most the burst, plus the refill over that
    // time, plus the query in flight when it stopped.
    const count = async (changed: boolean, ms: number) => {
      let n = 0;
      const started = performance.now();
      const loop = new BlockingQuery<number>({
        label: 'spin',
        wait: 60_000,
        fetch: async () => ({ data: n, index: ++n }),
        onData: () => changed,
        onError: () => {},
      }).start();
      await new Promise((r) => setTimeout(r, ms));
      loop.stop();
      const seconds = (performance.now() - started) / 1_000;
      await loop.done();
      return { n, seconds };
    };
    // A run of answers without change: 11 at once, then 20 a second.
    const unchanged = await count(false, 1_000);
    assert.ok(
      unchanged.n >= 25 && unchanged.n <= 11 + Math.ceil(20 * unchanged.seconds) + 1,
      `${unchanged.n} unchanged answers in ${unchanged.seconds.toFixed(3)} s`,
    );
    // Answers that change something: 200 at once, then 1,000 a second, never more.
    const changing = await count(true, 300);
    assert.ok(
      changing.n >= 250 && changing.n <= 200 + Math.ceil(1_000 * changing.seconds) + 1,
      `${changing.n} changing answers in ${changing.seconds.toFixed(3)} s`,
    );
  });
});
