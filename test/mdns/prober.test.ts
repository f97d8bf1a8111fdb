/** prober.ts: the probe schedule and the QU bit of RFC 6762 §8.1, with a host that records what is sent. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, Rr } from '../../src/adapters/mdns/packet.js';
import { type Claim, Prober, type Target } from '../../src/adapters/mdns/prober.js';
import { ipv4Target } from './targets.js';

const target = ipv4Target();

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
  it('does not take its own probe from another interface on the same LAN for a rival', async () => {
    const eth0 = ipv4Target();
    const eth1 = ipv4Target('eth1', '169.254.1.9');
    const host = (t: Target): Rr => ({ name: 'rc-host.local', type: 'A', ttl: 120, flush: true, data: t.iface.v4[0]?.address ?? '' });
    const sent: Array<{ m: Message; t: Target }> = [];
    const prober = new Prober({ targets: () => [eth0, eth1], portShared: () => true, send: async (m, t) => void sent.push({ m, t }) });
    const keepAlive = setTimeout(() => {}, 5000);
    try {
      await new Promise<void>((resolve, reject) => {
        prober.claim({ name: 'rc-host.local', records: (t) => [host(t)], won: resolve, conflict: () => reject(new Error('conflict')) });
        // Every probe sent on eth1 loops back and, sharing eth0's subnet, is heard as if on eth0.
        const echo = setInterval(() => {
          for (const { m, t } of sent.splice(0)) if (t === eth1) prober.onProbe(m, eth0);
        }, 10);
        setTimeout(() => clearInterval(echo), 2000);
      });
    } finally {
      clearTimeout(keepAlive);
    }
    // .1.9 sorts after .1.2: had the echo counted as a rival, eth0's proposal would have lost.
    assert.equal(prober.tieBreaksLost, 0);
  });

  it('still loses the tie-break to a different host proposing later-sorting data', () => {
    const eth0 = ipv4Target();
    const prober = new Prober({ targets: () => [eth0], portShared: () => true, send: async () => {} });
    const ours: Rr = { name: 'rc-host.local', type: 'A', ttl: 120, flush: true, data: '169.254.1.2' };
    prober.claim({ name: 'rc-host.local', records: () => [ours], won: () => {}, conflict: () => {} });
    const rival: Message = {
      id: 0,
      response: false,
      tc: false,
      questions: [{ name: 'rc-host.local', type: 'ANY', qu: false }],
      answers: [],
      authorities: [{ ...ours, flush: false, data: '169.254.1.200' }],
      additionals: [],
    };
    prober.onProbe(rival, eth0);
    assert.equal(prober.tieBreaksLost, 1);
    prober.close();
  });

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
