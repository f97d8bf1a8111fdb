/**
 * What rollcall puts on the wire, read from a tcpdump capture inside the namespace: probes then
 * announcements on the RFC schedule, no record multicast twice within a second per interface,
 * known answers suppress answers, goodbyes carry TTL 0, and every packet is a proper mDNS packet
 * (source port 5353, IP TTL 255, multicast responses with id 0 and the AA bit).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it, type TestContext } from 'node:test';
import { DnsSdCodec } from '../../src/adapters/mdns/dns-sd.js';
import { Recorder } from '../conformance/helpers.js';
import { type RemoteRegistry, spawnRegistry } from '../harness/remote.js';
import { type CapturedPacket, createLan, type Lan } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';
import { rawPeer } from './raw-peer.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  encode(m: object): Buffer;
  decode(b: Buffer): Decoded;
};
interface DecodedRecord {
  name: string;
  type: string;
  ttl: number;
  flush?: boolean;
  data: unknown;
}
interface Decoded {
  id: number;
  type: 'query' | 'response';
  flag_aa: boolean;
  questions: Array<{ name: string; type: string }>;
  answers: DecodedRecord[];
  authorities: DecodedRecord[];
  additionals: DecodedRecord[];
}

const skip = lanSkipReason(['tcpdump']);
const KA_QUERY_ID = 0x4b41;
const PLAIN_QUERY_ID = 0x5051;

const key = (r: DecodedRecord) => `${r.name.toLowerCase()}|${r.type}|${JSON.stringify(r.data)}`;

describe('mdns: wire discipline', { timeout: 120_000, skip }, () => {
  let lan: Lan<'speaker' | 'listener'>;
  before(async () => {
    lan = await createLan({ hosts: ['speaker', 'listener'], ipv6: false });
  });
  after(() => lan?.destroy());

  it('wire: probes, announcements, the one-second rule, known-answer suppression and goodbyes, from a capture', async (t) => {
    const { speaker, listener } = lan.hosts;
    const capture = await listener.capture('udp port 5353');
    const [a, b] = await Promise.all([speaker, listener].map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const names = ['wire-1', 'wire-2', 'wire-3'];
    const regs = await Promise.all(
      names.map((n, i) => a.register({ name: n, nodes: [{ id: `${n}-n`, address: `${speaker.address}:${6000 + i}` }] }, { ttl: 120_000 })),
    );
    await rec.until((r) => names.every((n) => r.nodeIds(n).length === 1), 8000, 'all three seen');
    // Let the three announcements pass (0, +1 s, +3 s), plus the 1 s rule.
    await new Promise((r) => setTimeout(r, 4500));

    // A query that lists every PTR as known (full TTL): nothing of it may come back...
    const ptrs = names.map((n) => ({ name: '_rollcall._tcp.local', type: 'PTR', ttl: 4500, data: `${n}-n._rollcall._tcp.local` }));
    const question = [{ name: '_rollcall._tcp.local', type: 'PTR' }];
    const withKnown = dnsPacket.encode({ id: KA_QUERY_ID, type: 'query', questions: question, answers: ptrs }).toString('hex');
    const plain = dnsPacket.encode({ id: PLAIN_QUERY_ID, type: 'query', questions: question }).toString('hex');
    await (await rawPeer(listener, { mode: 'send', bind: listener.address, port: 5353, packets: [withKnown] })).done;
    await new Promise((r) => setTimeout(r, 1500));
    // ...while the same question without known answers is answered.
    await (await rawPeer(listener, { mode: 'send', bind: listener.address, port: 5353, packets: [plain] })).done;
    await new Promise((r) => setTimeout(r, 600));
    await regs[0]?.deregister();
    await rec.until((r) => r.nodeIds('wire-1').length === 0, 5000, 'goodbye seen');

    const packets = (await capture.stop()).packets.filter((p) => p.srcPort === 5353 || p.dstPort === 5353);
    const decoded = packets.map((p) => ({ p, m: dnsPacket.decode(p.payload) }));
    const fromSpeaker = decoded.filter(({ p }) => p.src === speaker.address);
    assert.ok(fromSpeaker.length > 0);

    // Every packet of ours: from port 5353 with IP TTL 255; multicast responses with id 0 and AA.
    for (const { p, m } of fromSpeaker) {
      assert.equal(p.srcPort, 5353);
      assert.equal(p.ttl, 255, 'IP TTL 255 (RFC 6762 §11)');
      if (m.type === 'response' && p.dst === '224.0.0.251') assert.ok(m.id === 0 && m.flag_aa, 'id 0 and AA on multicast responses');
    }

    // Probing: three ANY queries with proposed records in Authority, 250 ms apart, before the first announcement.
    const instance = 'wire-1-n._rollcall._tcp.local';
    const probes = fromSpeaker.filter(({ m }) => m.type === 'query' && m.questions.some((q) => q.name === instance && q.type === 'ANY'));
    assert.equal(probes.length, 3, 'three probes');
    assert.ok(probes.every(({ m }) => m.authorities.some((r) => r.name === instance && r.type === 'SRV')));
    for (let i = 1; i < probes.length; i++) {
      const gap = (probes[i]?.p.timeMs ?? 0) - (probes[i - 1]?.p.timeMs ?? 0);
      assert.ok(gap >= 245 && gap < 400, `probes 250 ms apart (${gap.toFixed(1)})`);
    }
    // An announcement is told by what it holds, not by when it went out: the instance's PTR and SRV
    // together among the answers. An answer to a follow-up question of the watcher's (its SRV or TXT
    // of an instance it heard of before the records came) holds the SRV alone, and the answer to a
    // browse holds the SRV among the additionals; either may fall a second after an announcement.
    const live = (r: DecodedRecord) => r.ttl > 0;
    const srvSends = fromSpeaker.filter(
      ({ m }) =>
        m.type === 'response' &&
        m.answers.some((r) => live(r) && r.name === instance && r.type === 'SRV') &&
        m.answers.some((r) => live(r) && r.type === 'PTR' && r.data === instance),
    );
    const firstAnnouncement = srvSends[0]?.p.timeMs ?? 0;
    assert.ok(firstAnnouncement > (probes.at(-1)?.p.timeMs ?? Number.POSITIVE_INFINITY), 'announced only after probing');
    const announceGaps = srvSends.slice(1, 3).map(({ p }, i) => p.timeMs - (srvSends[i]?.p.timeMs ?? 0));
    assert.ok(
      announceGaps.length >= 1 && announceGaps[0]! >= 995 && announceGaps[0]! < 1300,
      `second announcement 1 s later (${announceGaps})`,
    );
    // On failure, what the speaker sent around the announcing step says what the third send was.
    const around = () =>
      decoded
        .filter(({ p }) => p.timeMs >= firstAnnouncement - 200 && p.timeMs <= firstAnnouncement + 3500)
        .map(
          ({ p, m }) =>
            `${(p.timeMs - firstAnnouncement).toFixed(0)} ${p.src === speaker.address ? 'a' : 'b'} ${m.type} q[${m.questions.map((q) => `${q.type} ${q.name}`)}] an[${m.answers.map((r) => `${r.type} ${r.name} ${r.ttl}`)}] ad${m.additionals.length}`,
        )
        .join('\n');
    if (announceGaps[1] !== undefined) assert.ok(announceGaps[1] >= 1900, `then doubling (${announceGaps})\n${around()}`);
    assert.ok(
      srvSends.some(({ m }) => m.answers.some((r) => r.type === 'SRV' && r.flush)),
      'unique records carry cache-flush',
    );
    assert.ok(
      srvSends.every(({ m }) => m.answers.filter((r) => r.type === 'PTR').every((r) => !r.flush)),
      'shared records do not',
    );

    // No record multicast twice within one second on the interface (goodbyes exempt).
    const last = new Map<string, number>();
    for (const { p, m } of fromSpeaker) {
      if (m.type !== 'response' || p.dst !== '224.0.0.251') continue;
      for (const r of [...m.answers, ...m.additionals]) {
        if (r.ttl === 0) continue;
        const k = key(r);
        const before = last.get(k);
        if (before !== undefined)
          assert.ok(p.timeMs - before >= 995, `${r.name} ${r.type} multicast again after ${(p.timeMs - before).toFixed(1)} ms`);
        last.set(k, p.timeMs);
      }
    }

    // Known-answer suppression: nothing of the known PTRs within a second of the query that listed them...
    const kaAt = decoded.find(({ m }) => m.id === KA_QUERY_ID)?.p.timeMs ?? 0;
    const plainAt = decoded.find(({ m }) => m.id === PLAIN_QUERY_ID)?.p.timeMs ?? 0;
    assert.ok(kaAt > 0 && plainAt > kaAt);
    const ptrAnswers = (from: number, to: number) =>
      fromSpeaker.filter(
        ({ p, m }) =>
          p.timeMs > from &&
          p.timeMs < to &&
          m.type === 'response' &&
          m.answers.some((r) => r.type === 'PTR' && r.name === '_rollcall._tcp.local'),
      );
    assert.equal(ptrAnswers(kaAt, kaAt + 1000).length, 0, 'known answers suppressed the answer');
    // ...and the same question without them is answered within the 20-120 ms shared-answer delay.
    const answered = ptrAnswers(plainAt, plainAt + 300);
    assert.equal(answered.length, 1, 'the plain query is answered');
    const delay = (answered[0]?.p.timeMs ?? 0) - plainAt;
    assert.ok(delay >= 19 && delay <= 160, `shared answers wait 20-120 ms (${delay.toFixed(1)})`);
    const answeredPtrs = answered[0]?.m.answers.filter((r) => r.type === 'PTR').length;
    assert.equal(answeredPtrs, 3);
    assert.ok(
      answered[0]?.m.additionals.some((r) => r.type === 'SRV'),
      'SRV, TXT and addresses ride along as additionals',
    );

    // Goodbye: TTL 0 for the instance's records, PTRs included.
    const goodbye = fromSpeaker.find(
      ({ m }) => m.type === 'response' && m.answers.some((r) => r.name === instance && r.type === 'SRV' && r.ttl === 0),
    );
    assert.ok(goodbye, 'a goodbye was sent');
    const gone = goodbye.m.answers.filter((r) => r.name === instance || r.data === instance);
    assert.ok(gone.length >= 4 && gone.every((r) => r.ttl === 0), JSON.stringify(gone));
    assert.ok(!goodbye.m.answers.some((r) => r.data === 'wire-2-n._rollcall._tcp.local'), 'only the departing node says goodbye');
    printSummary(packets);
  });

  /**
   * One registry on the speaker does `act` under a capture on the listener; what comes back are
   * the announcements it multicast of `instance` (the responses with a live record of it), timed.
   */
  async function announcementsOf(
    t: TestContext,
    instance: string,
    act: (a: RemoteRegistry, address: string) => Promise<void>,
  ): Promise<Array<{ at: number; m: Decoded }>> {
    const { speaker, listener } = lan.hosts;
    const capture = await listener.capture('udp port 5353');
    const a = await spawnRegistry({ options: { kind: 'mdns' }, netns: speaker.netns });
    t.after(() => a.kill());
    await act(a, speaker.address);
    return (await capture.stop()).packets
      .filter((p) => p.src === speaker.address && p.srcPort === 5353)
      .map((p) => ({ at: p.timeMs, m: dnsPacket.decode(p.payload) }))
      .filter(({ m }) => m.type === 'response' && m.answers.some((r) => r.ttl > 0 && r.name === instance));
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('wire: new rdata repeats the announcing step (RFC 6762 §8.4), even when it comes while the first step runs', async (t) => {
    const instance = 'wire-upd-n._rollcall._tcp.local';
    const sent = await announcementsOf(t, instance, async (a, address) => {
      const service = { name: 'wire-upd', nodes: [{ id: 'wire-upd-n', address: `${address}:7300` }] };
      await a.register({ ...service, metadata: { round: '1' } }, { ttl: 120_000 });
      // Half a second into the first announcing step, the service's metadata (its TXT) changes.
      await sleep(500);
      await a.register({ ...service, metadata: { round: '2' } }, { ttl: 120_000 });
      await sleep(4500);
    });
    const carrying = (match: (r: DecodedRecord) => boolean) =>
      sent.filter(({ m }) => m.answers.some((r) => r.ttl > 0 && r.name === instance && match(r))).map(({ at }) => at);
    const round2 = carrying((r) => r.type === 'TXT' && (r.data as Buffer[]).some((b) => b.toString() === 's.round=2'));
    assert.ok(round2.length >= 2, `the new TXT announced at least twice (${round2.length})`);
    assert.ok((round2[1] as number) - (round2[0] as number) >= 995, 'a second apart');
    // The unchanged SRV, announced once before the change, is announced again with the new step.
    assert.ok(carrying((r) => r.type === 'SRV').length >= 2, 'the SRV announced at least twice');
  });

  it('wire: registering a node again unchanged leaves its announcing step to finish', async (t) => {
    const instance = 'wire-same-n._rollcall._tcp.local';
    const sent = await announcementsOf(t, instance, async (a, address) => {
      const service = { name: 'wire-same', nodes: [{ id: 'wire-same-n', address: `${address}:7400` }] };
      await a.register(service, { ttl: 120_000 });
      await a.register(service, { ttl: 120_000 });
      // Past the second announcement (+1 s) and not yet the third (+3 s).
      await sleep(1600);
    });
    const srv = sent.filter(({ m }) => m.answers.some((r) => r.type === 'SRV' && r.name === instance));
    assert.ok(srv.length >= 2, `announced at least twice (${srv.length})`);
  });

  it('wire: two browsers asking the same question settle into one querier (duplicate question suppression, RFC 6762 §7.3)', async (t) => {
    const { speaker, listener } = lan.hosts;
    const capture = await listener.capture('udp port 5353');
    // Queries every second (the shortest cap allowed), so ten seconds hold enough of them to count.
    const options = { kind: 'mdns', maxQueryInterval: 1000 } as const;
    const [a, b] = await Promise.all([speaker, listener].map((h) => spawnRegistry({ options, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    // One instance, which both browsers come to know: their queries list the same known answer.
    await a.register({ name: 'dupq', nodes: [{ id: 'dupq-n', address: `${speaker.address}:7000` }] }, { ttl: 120_000 });
    const recs = [a, b].map((r) => new Recorder(r.watch({ service: 'dupq' })));
    t.after(() => Promise.all(recs.map((r) => r.stop())));
    await Promise.all(recs.map((r) => r.until((x) => x.nodeIds('dupq').length === 1, 8000, 'dupq seen')));
    await new Promise((r) => setTimeout(r, 10_000));
    const end = Date.now();
    const [sa, sb] = await Promise.all([a.remoteStats(), b.remoteStats()]);
    const browse = new DnsSdCodec('local').browseName('dupq').toLowerCase();
    const queries = (await capture.stop()).packets
      .filter((p) => p.srcPort === 5353 && (p.src === speaker.address || p.src === listener.address))
      .map((p) => ({ p, m: dnsPacket.decode(p.payload) }))
      .filter(({ m }) => m.type === 'query' && m.questions.some((q) => q.name.toLowerCase() === browse && q.type === 'PTR'));
    const firstOf = (address: string) => queries.find(({ p }) => p.src === address)?.p.timeMs ?? Number.POSITIVE_INFINITY;
    // Steady state: from 1.5 s after both have asked once (their first queries ask for unicast answers and always go out).
    const from = Math.max(firstOf(speaker.address), firstOf(listener.address)) + 1500;
    const window = queries.filter(({ p }) => p.timeMs >= from && p.timeMs <= end);
    const seconds = (end - from) / 1000;
    const timeline = window.map(({ p }) => `${(p.timeMs - from).toFixed(0)}:${p.src === speaker.address ? 'a' : 'b'}`).join(' ');
    assert.ok(seconds >= 7, `a window of ${seconds.toFixed(1)} s`);
    assert.ok(
      window.some(({ m }) => m.answers.some((r) => r.type === 'PTR' && r.name.toLowerCase() === browse)),
      `the queries carry the known answer (${timeline})`,
    );
    // Two independent browsers ask about twice a second; one asking for both, about once.
    assert.ok(window.length <= seconds * 1.25 + 1, `${window.length} queries in ${seconds.toFixed(1)} s: ${timeline}`);
    const suppressed = Number(sa.queriesSuppressed) + Number(sb.queriesSuppressed);
    assert.ok(suppressed >= seconds / 2, `queriesSuppressed ${sa.queriesSuppressed} + ${sb.queriesSuppressed}`);
  });
});

function printSummary(packets: CapturedPacket[]): void {
  if (!process.env.MDNS_WIRE_DEBUG) return;
  for (const p of packets) {
    const m = dnsPacket.decode(p.payload);
    console.log(
      p.timeMs.toFixed(1),
      p.src,
      m.type,
      m.questions.map((q) => q.name).join(','),
      [...m.answers, ...m.additionals].map((r) => `${r.type}:${r.ttl}`).join(' '),
    );
  }
}
