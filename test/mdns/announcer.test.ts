/**
 * announcer.ts: the one-second rule holds an announcement back, it never drops it. A heartbeat
 * that falls less than a second after the previous announcement (timers drift) goes out when the
 * second is over; otherwise a short TTL could run out between two heartbeats.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Announcer } from '../../src/adapters/mdns/announcer.js';
import { DnsSdCodec } from '../../src/adapters/mdns/dns-sd.js';
import { Publication, parseAddress } from '../../src/adapters/mdns/publication.js';
import { RATE_LIMIT_MS, Sender } from '../../src/adapters/mdns/sender.js';
import type { Transport } from '../../src/adapters/mdns/transport.js';
import { normalizeService } from '../../src/service.js';
import { ipv4Target } from './targets.js';

const target = ipv4Target();

function setup(now: () => number = () => performance.now()) {
  const sends: number[] = [];
  const transport = { multicast: async () => void sends.push(performance.now()) } as unknown as Transport;
  const sender = new Sender(transport, now);
  const announcer = new Announcer(() => [target], sender);
  const codec = new DnsSdCodec();
  const service = normalizeService({ name: 'beat', nodes: [{ id: 'beat-1', address: 'beat.example.com:80' }] });
  const node = service.nodes[0] as (typeof service.nodes)[number];
  const pub = new Publication(codec, service, node, {}, 3, 'beat-1');
  pub.update(service, node, pub.owner, 3, codec.txt(service, node, 1300));
  pub.spec = parseAddress(node.address).spec;
  pub.state = 'live';
  return { sends, announcer, pub };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mdns announcer', () => {
  it('holds back an announcement due within a second of the last one and sends it when the second is over', async () => {
    const { sends, announcer, pub } = setup();
    const keepAlive = setTimeout(() => {}, 5000);
    try {
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(300);
      assert.equal(sends.length, 1, 'the first goes at once');
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(400);
      assert.equal(sends.length, 1, 'the second waits: nothing twice within a second');
      await sleep(500);
      assert.equal(sends.length, 2, 'and goes when the second is over, not never');
      const gap = (sends[1] as number) - (sends[0] as number);
      assert.ok(gap >= RATE_LIMIT_MS - 10 && gap < RATE_LIMIT_MS + 100, `sent ${gap.toFixed(0)} ms after the first`);
      // Several announcements held back at once still cost one send.
      announcer.enqueue(pub, RATE_LIMIT_MS);
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(50);
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(1100);
      assert.equal(sends.length, 3);
    } finally {
      announcer.close();
      clearTimeout(keepAlive);
    }
  });

  it('an announcement held back goes once when the second is over, however long the machine takes between deciding and sending', async () => {
    // A clock that runs 20 ms ahead at every reading: a busy machine, where the rate-limit check
    // and the send read different times unless they share one reading.
    let skew = 0;
    let last = 0;
    const clock = () => {
      skew += 20;
      last = performance.now() + skew;
      return last;
    };
    const { sends, announcer, pub } = setup(clock);
    const keepAlive = setTimeout(() => {}, 5000);
    try {
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(20);
      assert.equal(sends.length, 1, 'the first goes at once');
      // The next one is checked 10 ms short of the second since the first was stamped (the last
      // reading), and a later reading would find the second over.
      skew += last + RATE_LIMIT_MS - 10 - (performance.now() + skew + 20);
      announcer.enqueue(pub, RATE_LIMIT_MS);
      await sleep(1300);
      assert.equal(sends.length, 2, `held back, then sent once (${sends.length} sends)`);
    } finally {
      announcer.close();
      clearTimeout(keepAlive);
    }
  });
});
