/**
 * The Go memberlist peer harness itself: two peers on 127.0.0.1 join, list each other, pass a user
 * broadcast and a reliable message, report a leave; with a 16-byte key a peer with another key
 * cannot join. Later gossip suites build on these commands.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type GoMemberlist, goMemberlistSkip, startGoMemberlist } from './go-memberlist.js';

const skip = goMemberlistSkip();

describe('go-memberlist peer', { skip, timeout: 240_000 }, () => {
  const peers: GoMemberlist[] = [];
  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
  });
  const start = async (o: Parameters<typeof startGoMemberlist>[0]) => {
    const p = await startGoMemberlist({ quiet: true, ...o });
    peers.push(p);
    return p;
  };

  it('two peers join, exchange state and messages, and see a leave', async () => {
    const a = await start({ name: 'go-a', userState: Buffer.from('state-a'), meta: Buffer.from('meta-a') });
    const b = await start({ name: 'go-b', join: [a.address] });
    const joined = b.events.find((e) => e.event === 'joined');
    assert.equal(joined?.joined, 1, JSON.stringify(joined));
    await a.waitFor((e) => e.event === 'join' && (e.node as { name: string }).name === 'go-b');
    const merge = await b.waitFor((e) => e.event === 'merge');
    assert.equal(merge.userState, Buffer.from('state-a').toString('hex'), 'push/pull carried the user state');
    const members = await b.call({ cmd: 'members' });
    const list = members.members as { name: string; meta: string; vsn: number[] }[];
    assert.deepEqual(list.map((m) => m.name).sort(), ['go-a', 'go-b']);
    assert.equal(list.find((m) => m.name === 'go-a')?.meta, Buffer.from('meta-a').toString('hex'));
    assert.deepEqual(list.find((m) => m.name === 'go-a')?.vsn, [1, 5, 2, 0, 0, 0]);

    await a.call({ cmd: 'broadcast', payload: 'cafe01' });
    await b.waitFor((e) => e.event === 'user' && e.payload === 'cafe01', 10_000, 'the broadcast');
    await b.call({ cmd: 'send', to: 'go-a', payload: 'beef02', reliable: true });
    await a.waitFor((e) => e.event === 'user' && e.payload === 'beef02', 10_000, 'the reliable message');

    await b.call({ cmd: 'leave', timeoutMs: 3000 });
    await a.waitFor((e) => e.event === 'leave' && (e.node as { name: string }).name === 'go-b', 15_000, 'the leave');
  });

  it('with a 16-byte key: the same key joins, another key does not', async () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const a = await start({ name: 'go-k1', keys: [key] });
    const b = await start({ name: 'go-k2', keys: [key], join: [a.address] });
    assert.equal(b.events.find((e) => e.event === 'joined')?.joined, 1);
    const c = await start({ name: 'go-k3', keys: [Buffer.alloc(16, 7)], join: [a.address] });
    const failed = c.events.find((e) => e.event === 'joined');
    assert.equal(failed?.joined, 0);
    assert.ok(failed?.error, 'the join reports an error');
    const members = (await a.call({ cmd: 'members' })).members as { name: string }[];
    assert.deepEqual(members.map((m) => m.name).sort(), ['go-k1', 'go-k2']);
  });
});
