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
  it('rate limit: a record is held for a second from the moment its packet reached the socket', async () => {
    let clock = 0;
    const sentAt: number[] = [];
    // A slow first send (cold code, a busy machine): the packet reaches the socket 40 ms after the call began.
    const transport = {
      multicast: async () => {
        clock += 40;
        sentAt.push(clock);
      },
    } as unknown as Transport;
    const sender = new Sender(transport, () => clock);
    await sender.multicastResponse([{ answers: [srv], additionals: [] }], target);
    assert.deepEqual(sentAt, [40]);
    clock = RATE_LIMIT_MS + 20;
    assert.equal(sender.recentlyMulticast(srv, target, RATE_LIMIT_MS), true, 'less than a second after it went out');
    assert.equal(sender.heldFor([srv], target, RATE_LIMIT_MS), 20);
    clock = RATE_LIMIT_MS + 40;
    assert.equal(sender.recentlyMulticast(srv, target, RATE_LIMIT_MS), false);
    await sender.multicastResponse([{ answers: [srv], additionals: [] }], target);
    assert.equal(sentAt.length, 2, 'a second after it went out, it goes again');
  });
});
