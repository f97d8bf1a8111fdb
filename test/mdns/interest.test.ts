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

describe('interest: two queriers of one question', () => {
  it('stoodIn: counted as sent, the next query a tenth of an interval (plus at most 2 %) after the peer is due again', () => {
    const interest = new Interest('x', 'x', 'x', 0);
    interest.sent(0, 8000);
    // The peer asked at 1700 for us; our timer fired at 2000.
    interest.stoodIn(2000, 1700, 8000);
    assert.equal(interest.sentCount, 2);
    assert.equal(interest.periodStart, 2000);
    const wait = interest.nextAt - 1700;
    assert.ok(wait >= 2200 && wait <= 2240, `${wait} after the peer's query`);
    interest.stop();
  });

  it('askedTogether: once a period, in the first half of a wait we began by asking, our next query moves up to a quarter later', () => {
    const moves: number[] = [];
    for (let run = 0; run < 50; run++) {
      const interest = new Interest('x', 'x', 'x', 0);
      interest.sent(0, 8000);
      const due = interest.nextAt;
      interest.askedTogether(300);
      moves.push(interest.nextAt - due);
      // Only once a period.
      const moved = interest.nextAt;
      interest.askedTogether(400);
      assert.equal(interest.nextAt, moved);
      // Not in the second half of a wait, nor in a wait a peer's query began.
      interest.sent(interest.nextAt, 8000);
      const second = interest.nextAt;
      interest.askedTogether(interest.periodStart + 1500);
      assert.equal(interest.nextAt, second, 'second half');
      interest.stoodIn(second, second - 100, 8000);
      const third = interest.nextAt;
      interest.askedTogether(interest.periodStart + 10);
      assert.equal(interest.nextAt, third, 'a wait a peer began');
      interest.stop();
    }
    assert.ok(
      moves.every((m) => m >= 0 && m <= 255),
      `moves within a quarter of the wait: ${Math.max(...moves)}`,
    );
    assert.ok(new Set(moves.map(Math.round)).size > 30, 'at random');
  });
});
