/**
 * Two hosts claim the same instance name at the same time (RFC 6762 §8.2): the one whose proposed
 * records compare lexicographically earlier defers, then renames; exactly one renames, even when
 * the winner started probing second. Against rollcall on another host, and against avahi.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { type AvahiDaemon, createLan, type Lan, startAvahi } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';
import { announcement, rawPeer } from './raw-peer.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  decode(b: Buffer): { type: string; answers: Array<{ name: string; type: string; ttl: number; data: unknown }> };
  encode(m: object): Buffer;
};
const dnsPacketEncode = (m: object) => dnsPacket.encode(m);

const skip = lanSkipReason(['avahi']);

describe('mdns: name conflicts', { timeout: 120_000, skip }, () => {
  let lan: Lan<'first' | 'second' | 'avahi' | 'solo' | 'late' | 'rival'>;
  let avahi: AvahiDaemon;
  before(async () => {
    lan = await createLan({ hosts: ['first', 'second', 'avahi', 'solo', 'late', 'rival'], ipv6: false });
    avahi = await startAvahi(lan.hosts.avahi, { hostName: 'conflict-avahi' });
  });
  after(async () => {
    await avahi?.stop();
    await lan?.destroy();
  });

  it('conflict: two rollcall hosts probe one name at once; the lexicographically earlier one renames', async (t) => {
    const { first, second } = lan.hosts;
    const [a, b] = await Promise.all([first, second].map((h) => spawnRegistry({ options: { kind: 'mdns' }, netns: h.netns })));
    if (!a || !b) throw new Error('spawn failed');
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    // Same service and node id, so the same instance name; the TXT (compared before the SRV, its
    // type being smaller) differs only in n.tie, where "a" < "b": the first host must lose,
    // although it starts probing first.
    const node = (tie: string, host: string) => ({
      name: 'clash',
      nodes: [{ id: 'clash-node', address: `${host}:9000`, metadata: { tie } }],
    });
    const early = a.register(node('a', first.address));
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([early, b.register(node('b', second.address))]);
    const [sa, sb] = await Promise.all([a.remoteStats(), b.remoteStats()]);
    assert.equal(sa.renames, 1, `the earlier-sorting host renamed: ${JSON.stringify(sa)}`);
    assert.equal(sb.renames, 0, 'the other kept its name');
    assert.ok(Number(sa.tieBreaksLost) >= 1, 'by the tie-break, not by arriving late');
    const names = await browseNames('clash-node');
    assert.deepEqual(names.sort(), ['clash-node', 'clash-node (2)']);
  });

  it('conflict: rollcall and avahi probe one name at once; exactly one renames, the tie-break decides', async (t) => {
    const { solo } = lan.hosts;
    const ours = await spawnRegistry({ options: { kind: 'mdns' }, netns: solo.netns });
    t.after(() => ours.kill());
    // Our TXT extends avahi's (one more string), so ours sorts later: avahi must give way, although it starts first.
    const publishing = avahi.publish('clash-av', '_rollcall._tcp', 6000, ['txtvers=1', 'name=clash-svc']);
    t.after(() => publishing.then((p) => p.stop()).catch(() => {}));
    await new Promise((r) => setTimeout(r, 100));
    await ours.register({ name: 'clash-svc', nodes: [{ id: 'clash-av', address: `${solo.address}:6001` }] });
    const established = await publishing;
    const stats = await ours.remoteStats();
    assert.equal(stats.renames, 0, 'rollcall kept the name');
    assert.equal(established.name, 'clash-av #2', 'avahi renamed');
    const names = await browseNames('clash-av');
    assert.deepEqual(names.sort(), ['clash-av', 'clash-av #2']);
  });

  it('conflict after announcing (§9): the loser renames and retracts what it held under the lost name', async (t) => {
    const { late, rival } = lan.hosts;
    const ours = await spawnRegistry({ options: { kind: 'mdns' }, netns: late.netns });
    t.after(() => ours.kill());
    await ours.register({ name: 'held', nodes: [{ id: 'held-node', address: `${late.address}:7000` }] });
    const capture = await late.capture();
    // A rival claims the live name with other data, again and again: our new probe hears it and loses.
    const rivalNode = announcement('held-node', 'rival-host.local', rival.address, 7777, ['txtvers=1', 'name=held', 'id=held-node']);
    const peer = await rawPeer(rival, { mode: 'send', bind: rival.address, port: 5353, packets: [rivalNode], repeat: 15, intervalMs: 200 });
    await eventually(async () => Number((await ours.remoteStats()).renames) >= 1, 10_000, 'a rename after the conflict', 200);
    await peer.done;
    const { packets } = await capture.stop();
    const goodbyes = packets
      .filter((p) => p.src === late.address)
      .flatMap((p) => dnsPacket.decode(p.payload).answers)
      .filter((a) => a.ttl === 0 && [a.name, String(a.data)].some((n) => n.toLowerCase() === 'held-node._rollcall._tcp.local'));
    assert.deepEqual(goodbyes.map((a) => a.type).sort(), ['SRV', 'TXT'], 'our SRV and TXT under the lost name, and no PTR');
    const srv = goodbyes.find((a) => a.type === 'SRV')?.data as { port: number };
    assert.equal(srv.port, 7000, "our data, not the rival's");
    const stats = await ours.remoteStats();
    assert.equal(stats.retracted, 2);
    assert.equal((await ours.getService('held'))[0]?.nodes[0]?.id, 'held-node', 'the node lives on under its new name');
  });

  it('host name lost after announcing (§9): its address records are retracted (ours only) and nodes move to a new host name', async (t) => {
    const { late, rival } = lan.hosts;
    const ours = await spawnRegistry({ options: { kind: 'mdns' }, netns: late.netns });
    t.after(() => ours.kill());
    // The host name carries a random tag: learn it from our own second announcement.
    const first = await late.capture();
    await ours.register({ name: 'hosted', nodes: [{ id: 'hosted-node', address: `${late.address}:7100` }] });
    await new Promise((r) => setTimeout(r, 1500));
    const heard = (await first.stop()).packets.filter((p) => p.src === late.address).flatMap((p) => dnsPacket.decode(p.payload).answers);
    const hostName = heard.find((a) => a.type === 'A' && a.data === late.address && a.ttl > 0)?.name;
    if (!hostName?.endsWith('.local')) assert.fail(`our A record was announced: ${JSON.stringify(heard.map((a) => a.name))}`);
    const lost = hostName.toLowerCase();

    const capture = await late.capture();
    // A rival answers for our host name with its own address, again and again: our re-probe hears it and loses.
    const rivalA = Buffer.from(
      dnsPacketEncode({
        type: 'response',
        flags: 0x400,
        answers: [{ name: hostName, type: 'A', ttl: 120, flush: true, data: rival.address }],
      }),
    ).toString('hex');
    const peer = await rawPeer(rival, { mode: 'send', bind: rival.address, port: 5353, packets: [rivalA], repeat: 15, intervalMs: 200 });
    await eventually(async () => Number((await ours.remoteStats()).retracted) >= 1, 10_000, 'the lost host name retracted', 200);
    await peer.done;
    await new Promise((r) => setTimeout(r, 1500));
    const answers = (await capture.stop()).packets
      .filter((p) => p.src === late.address)
      .flatMap((p) => dnsPacket.decode(p.payload).answers);
    const goodbyes = answers.filter((a) => a.ttl === 0 && a.name.toLowerCase() === lost);
    assert.deepEqual(
      goodbyes.map((a) => [a.type, a.data]),
      [['A', late.address]],
      'one goodbye, for our address under the lost name; never for the rival',
    );
    // The capture may open with the last announcement of the first step (+3 s, old name): what counts is after the goodbye.
    const retractedAt = answers.findIndex((a) => a.ttl === 0 && a.name.toLowerCase() === lost);
    const targets = answers
      .slice(retractedAt)
      .filter((a) => a.type === 'SRV' && a.ttl > 0 && a.name.toLowerCase().startsWith('hosted-node.'))
      .map((a) => (a.data as { target: string }).target.toLowerCase());
    const target = targets[0];
    assert.ok(
      target && target !== lost && targets.every((n) => n === target),
      `the node is announced again under one new host name (${targets.join(', ')})`,
    );
    assert.ok(
      answers.some((a) => a.type === 'A' && a.ttl > 0 && a.name.toLowerCase() === target && a.data === late.address),
      'with our address under it',
    );
    const stats = await ours.remoteStats();
    assert.equal(stats.retracted, 1, JSON.stringify(stats));
    assert.ok(Number(stats.conflicts) >= 1);
    assert.equal((await ours.getService('hosted'))[0]?.nodes[0]?.address, `${late.address}:7100`, 'the node itself is unchanged');
  });

  async function browseNames(prefix: string): Promise<string[]> {
    let names: string[] = [];
    await eventually(
      async () => {
        names = [...new Set((await avahi.browse('_rollcall._tcp')).map((s) => s.name).filter((n) => n.startsWith(prefix)))];
        return names.length >= 2;
      },
      15_000,
      `avahi-browse to list both ${prefix} names`,
      500,
    );
    return names;
  }
});
