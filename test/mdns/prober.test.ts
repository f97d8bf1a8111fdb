/** prober.ts: the probe schedule and the QU bit of RFC 6762 §8.1, with a host that records what is sent. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, Rr } from '../../src/adapters/mdns/packet.js';
import { type Claim, Prober, type Target } from '../../src/adapters/mdns/prober.js';

const target = { iface: { name: 'eth0', v4: [{ address: '169.254.1.2' }], v6: [] }, family: 4 } as unknown as Target;

function probeOnce(portShared: boolean): Promise<{ sent: Message[]; wonAfterMs: number }> {
  const sent: Message[] = [];
  const prober = new Prober({ targets: () => [target], portShared: () => portShared, send: async (m) => void sent.push(m) });
  const record: Rr = {
    name: 'node-1._rollcall._tcp.local',
    type: 'SRV',
    ttl: 120,
    flush: true,
    data: { priority: 0, weight: 0, port: 80, target: 'h.local' },
  };
  const started = performance.now();
  // The prober's timers are unref'd (a registry must not hold the process open); this one keeps the test alive.
  const keepAlive = setTimeout(() => {}, 5000);
  return new Promise<{ sent: Message[]; wonAfterMs: number }>((resolve, reject) => {
    const claim: Claim = {
      name: record.name,
      records: () => [record],
      won: () => resolve({ sent, wonAfterMs: performance.now() - started }),
      conflict: () => reject(new Error('unexpected conflict')),
    };
    prober.claim(claim);
  }).finally(() => clearTimeout(keepAlive));
}

describe('mdns prober', () => {
  it('sends three probes, every one asking for unicast answers when port 5353 is ours alone', async () => {
    const { sent, wonAfterMs } = await probeOnce(false);
    assert.equal(sent.length, 3);
    for (const m of sent) {
      assert.equal(m.response, false);
      assert.deepEqual(
        m.questions.map((q) => [q.name, q.type, q.qu]),
        [['node-1._rollcall._tcp.local', 'ANY', true]],
      );
      assert.equal(m.authorities.length, 1, 'the proposed record rides in Authority');
    }
    assert.ok(wonAfterMs >= 500, `three probes 250 ms apart take at least 500 ms (${wonAfterMs} ms)`);
  });

  it('asks for no unicast answer while another socket shares port 5353', async () => {
    const { sent } = await probeOnce(true);
    assert.equal(sent.length, 3);
    assert.deepEqual(
      sent.flatMap((m) => m.questions.map((q) => q.qu)),
      [false, false, false],
    );
  });
});
