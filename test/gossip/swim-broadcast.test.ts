// The broadcast queue: retransmit counts sized from the live cluster, replacement of older news
// about the same subject, packing within the packet budget, and urgent leaves first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Broadcast, TransmitLimitedQueue } from '../../src/adapters/gossip/swim/broadcast.js';

function msg(text: string, name?: string, extra: Partial<Broadcast> = {}): Broadcast & { done: number } {
  const b = {
    message: new TextEncoder().encode(text),
    name,
    done: 0,
    finished() {
      b.done++;
    },
    ...extra,
  };
  return b;
}

const text = (parts: Uint8Array[]) => parts.map((p) => new TextDecoder().decode(p));

describe('broadcast queue', () => {
  it('retransmits: each message goes out retransmitLimit times, then finishes once', () => {
    let n = 9; // 4 × ceil(log10(10)) = 4
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => n });
    const b = msg('alive a', 'node:a');
    q.queue(b);
    let sent = 0;
    while (q.size > 0) sent += q.take(2, 1400).length;
    assert.equal(sent, 4);
    assert.equal(b.done, 1);
    n = 10; // the cluster grew: 8 transmits
    const c = msg('alive c', 'node:c');
    q.queue(c);
    sent = 0;
    while (q.size > 0) sent += q.take(2, 1400).length;
    assert.equal(sent, 8);
  });

  it('invalidation: a newer broadcast about the same node replaces the queued one', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 5 });
    const alive = msg('alive a@1', 'node:a');
    const other = msg('alive b@1', 'node:b');
    q.queue(alive);
    q.queue(other);
    q.take(2, 1400); // both sent once
    const dead = msg('dead a@1', 'node:a');
    q.queue(dead);
    assert.equal(alive.done, 1);
    assert.equal(q.size, 2);
    const all: string[] = [];
    while (q.size > 0) all.push(...text(q.take(2, 1400)));
    assert.ok(!all.includes('alive a@1'), 'the replaced alive never goes out again');
    assert.equal(all.filter((m) => m === 'dead a@1').length, 4);
  });

  it('ordering: fresher tiers first, larger first within a tier, newest first among equals', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    q.queue(msg('old'), 1);
    q.queue(msg('aa'));
    q.queue(msg('bbbb'));
    q.queue(msg('cc'));
    assert.deepEqual(text(q.take(0, 1400)), ['bbbb', 'cc', 'aa', 'old']);
  });

  it('packing: stays within the byte budget, counting the per-message overhead', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    q.queue(msg('x'.repeat(600)));
    q.queue(msg('y'.repeat(600)));
    q.queue(msg('z'.repeat(100)));
    const first = q.take(2, 1400);
    assert.equal(first.reduce((s, m) => s + 2 + m.byteLength, 0) <= 1400, true);
    assert.deepEqual(
      first.map((m) => m.byteLength),
      [600, 600, 100],
    );
    const small = q.take(2, 700);
    assert.deepEqual(
      small.map((m) => m.byteLength),
      [600],
      'the largest that fits, then nothing else fits',
    );
  });

  it('a message larger than the budget waits and is never split or dropped silently', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    const big = msg('b'.repeat(2000));
    q.queue(big);
    assert.deepEqual(q.take(2, 1400), []);
    assert.equal(q.size, 1);
    assert.equal(big.done, 0);
  });

  it('urgent: a leave goes out ahead of everything queued', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    for (let i = 0; i < 10; i++) q.queue(msg(`${'m'.repeat(100)}${i}`));
    q.queue(msg('leave', 'node:me', { urgent: true }));
    const [first] = text(q.take(2, 120));
    assert.equal(first, 'leave');
  });

  it('prune: keeps the freshest and finishes the rest', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    const old = msg('old');
    q.queue(old, 3);
    const fresh = [msg('a'), msg('b')];
    for (const f of fresh) q.queue(f);
    q.prune(2);
    assert.equal(q.size, 2);
    assert.equal(old.done, 1);
    assert.deepEqual(text(q.take(0, 1400)).sort(), ['a', 'b']);
  });

  it('reset: finishes everything', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 100 });
    const all = [msg('a', 'node:a'), msg('b')];
    for (const b of all) q.queue(b);
    q.reset();
    assert.equal(q.size, 0);
    assert.deepEqual(
      all.map((b) => b.done),
      [1, 1],
    );
    assert.equal(q.has('node:a'), false);
  });

  it('no cluster: a lone node keeps nothing queued (retransmitLimit(mult, 0) = 0 sends once)', () => {
    const q = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 0 });
    const b = msg('a');
    q.queue(b);
    assert.equal(q.take(2, 1400).length, 1);
    assert.equal(q.size, 0);
    assert.equal(b.done, 1);
  });
});
