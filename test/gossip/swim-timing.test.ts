// The suspicion and retransmit arithmetic against literal tables. The expected values were printed by
// memberlist's own suspicionTimeout, remainingSuspicionTime and retransmitLimit (util.go and
// suspicion.go at 1b4c746, go1.19), with k = SuspicionMult - 2, or 0 when n - 2 < k (state.go
// suspectNode), and max = SuspicionMaxTimeoutMult × min.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lan, local, wan } from '../../src/adapters/gossip/swim/config.js';
import { pushPullScale, remainingSuspicionTime, retransmitLimit, suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';

/** n -> [min ms, max ms, k, remaining at 0..k confirmations (ms)] */
type Row = [number, number, number, number[]];

const memberlist: Record<'lan' | 'local' | 'wan', Record<number, Row>> = {
  lan: {
    1: [4000, 24000, 0, [4000]],
    3: [4000, 24000, 0, [4000]],
    4: [4000, 24000, 2, [24000, 11381, 4000]],
    10: [4000, 24000, 2, [24000, 11381, 4000]],
    16: [4816, 28896, 2, [28896, 13703, 4816]],
    32: [6020, 36120, 2, [36120, 17129, 6020]],
    100: [8000, 48000, 2, [48000, 22762, 8000]],
    128: [8428, 50568, 2, [50568, 23980, 8428]],
    1000: [12000, 72000, 2, [72000, 34144, 12000]],
    10000: [16000, 96000, 2, [96000, 45525, 16000]],
  },
  local: {
    2: [3000, 18000, 0, [3000]],
    3: [3000, 18000, 1, [18000, 3000]],
    16: [3612, 21672, 1, [21672, 3612]],
    128: [6321, 37926, 1, [37926, 6321]],
  },
  wan: {
    5: [30000, 180000, 0, [30000]],
    8: [30000, 180000, 4, [180000, 115398, 77609, 50797, 30000]],
    16: [36120, 216720, 4, [216720, 138939, 93441, 61159, 36120]],
    1000: [90000, 540000, 4, [540000, 346195, 232827, 152391, 90000]],
  },
};

describe('swim timing', () => {
  for (const [name, config] of [
    ['lan', lan],
    ['local', local],
    ['wan', wan],
  ] as const) {
    for (const [n, [min, max, k, remaining]] of Object.entries(memberlist[name])) {
      it(`suspicion: ${name} preset, n = ${n}`, () => {
        const size = Number(n);
        const ourMin = suspicionTimeout(config.suspicionMult, size, config.probeInterval);
        const ourMax = config.suspicionMaxTimeoutMult * ourMin;
        const ourK = size - 2 < config.suspicionMult - 2 ? 0 : config.suspicionMult - 2;
        assert.deepEqual([ourMin, ourMax, ourK], [min, max, k]);
        const ours = ourK === 0 ? [ourMin] : remaining.map((_, c) => remainingSuspicionTime(c, ourK, 0, ourMin, ourMax));
        assert.deepEqual(ours, remaining);
      });
    }
  }

  it('remaining suspicion: elapsed time is subtracted and may go negative', () => {
    assert.equal(remainingSuspicionTime(1, 2, 10_000, 4000, 24000), 1381);
    assert.equal(remainingSuspicionTime(2, 2, 10_000, 4000, 24000), -6000);
  });

  it('retransmit limit: mult × ceil(log10(n + 1))', () => {
    const table: [number, number][] = [
      [0, 0],
      [1, 4],
      [8, 4],
      [9, 4],
      [10, 8],
      [99, 8],
      [100, 12],
      [999, 12],
      [1000, 16],
    ];
    assert.deepEqual(
      table.map(([n]) => [n, retransmitLimit(4, n)]),
      table,
    );
  });

  it('push/pull scale: the interval until 32 members, then one more interval per doubling', () => {
    const table: [number, number][] = [
      [1, 30_000],
      [32, 30_000],
      [33, 60_000],
      [64, 60_000],
      [65, 90_000],
      [1000, 180_000],
      [10000, 300_000],
    ];
    assert.deepEqual(
      table.map(([n]) => [n, pushPullScale(30_000, n)]),
      table,
    );
  });
});
