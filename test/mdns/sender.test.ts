/** sender.ts: the one-second rule counts from when a packet went to the socket, not from when its sending began. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rr } from '../../src/adapters/mdns/packet.js';
import { RATE_LIMIT_MS, Sender } from '../../src/adapters/mdns/sender.js';
import type { Transport } from '../../src/adapters/mdns/transport.js';
import { ipv4Target } from './targets.js';

const target = ipv4Target();
const srv: Rr = {
  name: 'n._x._tcp.local',
  type: 'SRV',
  ttl: 120,
  flush: true,
  data: { priority: 0, weight: 0, port: 80, target: 'h.local' },
};

describe('mdns sender', () => {
  it('rate limit: a record is held for a second from the moment its packet reached the socket', () => {
    let clock = 0;
    // A slow first send (cold code, a busy machine): every look at the clock while it is being
    // packed and encoded finds 40 ms more gone, so a stamp taken when the sending began is too early.
    let slow = true;
    const now = () => (slow ? (clock += 40) : clock);
    const sentAt: number[] = [];
    const transport = { multicast: () => sentAt.push(clock) } as unknown as Transport;
    const sender = new Sender(transport, now);
    sender.multicastResponse([{ answers: [srv], additionals: [] }], target);
    slow = false;
    const wire = sentAt[0] as number;
    assert.ok(wire >= 80, `the first send took a while (${wire})`);
    clock = wire + RATE_LIMIT_MS - 20;
    assert.equal(sender.recentlyMulticast(srv, target, RATE_LIMIT_MS), true, 'less than a second after it went out');
    assert.equal(sender.heldFor([srv], target, RATE_LIMIT_MS), 20);
    clock = wire + RATE_LIMIT_MS;
    assert.equal(sender.recentlyMulticast(srv, target, RATE_LIMIT_MS), false);
    sender.multicastResponse([{ answers: [srv], additionals: [] }], target);
    assert.equal(sentAt.length, 2, 'a second after it went out, it goes again');
  });

  it('query: encoded once, sent on every target, counted per packet sent', () => {
    const sent: Array<{ buf: Buffer; iface: string }> = [];
    const transport = {
      multicast: (buf: Buffer, iface: { name: string }) => sent.push({ buf, iface: iface.name }),
    } as unknown as Transport;
    const sender = new Sender(transport, () => 0);
    sender.query(
      [{ name: '_x._tcp.local', type: 'PTR', qu: false }],
      [],
      [ipv4Target('eth0', '169.254.1.2'), ipv4Target('eth1', '169.254.2.2')],
      false,
    );
    assert.deepEqual(
      sent.map((s) => s.iface),
      ['eth0', 'eth1'],
    );
    assert.equal(sent[0]?.buf, sent[1]?.buf, 'the same bytes, not a second encode');
    assert.equal(sender.stats.queriesSent, 2);
    assert.equal(sender.stats.packetsSent, 2);
  });
});
