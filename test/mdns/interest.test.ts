/** interest.ts: the continuous-query schedule of RFC 6762 §5.2, stretched at random so two browsers never stay in step. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIRST_INTERVAL_MS, Interest } from '../../src/adapters/mdns/interest.js';

describe('interest: query schedule', () => {
  it('sent: the next query waits the interval plus at most 2 %, never less; intervals double up to the cap', () => {
    const waits: number[][] = [];
    for (let run = 0; run < 50; run++) {
      const interest = new Interest('x', 'x', 'x', 0);
      const row: number[] = [];
      let now = 0;
      for (let i = 0; i < 6; i++) {
        interest.sent(now, 8000);
        row.push(interest.nextAt - now);
        now = interest.nextAt;
      }
      interest.stop();
      waits.push(row);
    }
    const base = [FIRST_INTERVAL_MS, 2000, 4000, 8000, 8000, 8000];
    for (const row of waits) {
      for (const [i, w] of row.entries()) {
        const least = base[i] as number;
        assert.ok(w >= least && w <= least * 1.02, `wait ${i}: ${w}`);
      }
    }
    // At random: two browsers that once asked together drift apart.
    const firsts = new Set(waits.map((row) => Math.round((row[0] as number) * 1000)));
    assert.ok(firsts.size > 40, `${firsts.size} distinct first waits in 50`);
  });
});
