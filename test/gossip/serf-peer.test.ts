/**
 * A real serf agent and our node: we join it, it joins us (`serf join`), and an encrypted serf
 * cluster takes the right key and learns nothing from a wrong one. All on 127.0.0.x.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Memberlist } from '../../src/adapters/gossip/memberlist.js';
import { Keyring } from '../../src/adapters/gossip/wire/keyring.js';
import { MsgpackWriter } from '../../src/adapters/gossip/wire/msgpack.js';
import { systemClock } from '../../src/internal/clock.js';
import { bindNetTransport } from '../../src/internal/transport-net.js';
import { type SerfAgent, type SerfMember, serfSkip, startSerf } from '../peers/serf.js';

const skip = serfSkip();

/** Serf's tag encoding: 0xff, then a msgpack map of strings (keys sorted for a stable Meta). */
function serfTags(tags: Record<string, string>): Uint8Array {
  const keys = Object.keys(tags).sort();
  const w = new MsgpackWriter().byte(0xff).mapHeader(keys.length);
  for (const k of keys) w.str(k).str(tags[k] as string);
  return w.toBytes();
}

/** Serf's memberlist profile: protocol 1..5 (current 2), delegate (serf protocol) 2..5, current 4. */
const SERF_VSN = [1, 5, 2, 2, 5, 4];

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
});

async function ourNode(
  name: string,
  host: string,
  options: { keys?: Uint8Array[]; tags?: Record<string, string> } = {},
): Promise<Memberlist> {
  const transport = await bindNetTransport({ host, port: 0, clock: systemClock });
  const node = new Memberlist({
    transport,
    clock: systemClock,
    layers: { label: new Uint8Array(0), compression: true, keyring: options.keys ? new Keyring(options.keys) : undefined },
    name,
    meta: serfTags(options.tags ?? {}),
    vsn: SERF_VSN,
  });
  stops.push(() => node.close());
  return node;
}

async function serf(name: string, host: string, encrypt?: string): Promise<SerfAgent> {
  const agent = await startSerf({ name, host, tags: { role: 'peer' }, encrypt });
  stops.push(() => agent.stop());
  return agent;
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const find = (members: SerfMember[], name: string) => members.find((m) => m.name === name);

describe('serf peer', { skip }, () => {
  it('our node joins a serf agent: listed alive with its tags; we learn the agent', async () => {
    const agent = await serf('serf-a', '127.0.0.11');
    const ours = await ourNode('rollcall-a', '127.0.0.12', { tags: { role: 'api', version: '1.2.3' } });
    assert.equal(await ours.join([{ host: agent.host, port: agent.port }]), 1);
    const members = await eventually(
      'serf lists rollcall-a alive',
      () => agent.members(),
      (m) => find(m, 'rollcall-a')?.status === 'alive',
    );
    const listed = find(members, 'rollcall-a') as SerfMember;
    assert.deepEqual(listed.tags, { role: 'api', version: '1.2.3' });
    // serf shows the delegate (serf protocol) range of the Vsn we sent.
    assert.deepEqual(listed.protocol, { min: 2, max: 5, version: 4 });
    assert.equal(listed.addr, `127.0.0.12:${ours.address.port}`);
    assert.deepEqual(
      ours.members().map((n) => n.name),
      ['serf-a'],
    );
    // Still alive after several of serf's probe rounds: our acks are accepted.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(find(await agent.members(), 'rollcall-a')?.status, 'alive');
  });

  it('`serf join` towards our node: serf pushes/pulls with us and lists us alive', async () => {
    const agent = await serf('serf-b', '127.0.0.13');
    const ours = await ourNode('rollcall-b', '127.0.0.14', { tags: { role: 'db' } });
    const out = await agent.join(`${ours.address.host}:${ours.address.port}`);
    assert.match(out, /Successfully joined cluster by contacting 1 nodes/);
    const members = await eventually(
      'serf lists rollcall-b alive',
      () => agent.members(),
      (m) => find(m, 'rollcall-b')?.status === 'alive',
    );
    assert.deepEqual(find(members, 'rollcall-b')?.tags, { role: 'db' });
    assert.deepEqual(
      ours.members().map((n) => n.name),
      ['serf-b'],
    );
    assert.ok(ours.net.stats.pushPulls >= 1);
  });

  it('encrypted serf cluster: the right key joins, a wrong key learns nothing and breaks nothing', async () => {
    const key = randomBytes(32);
    const agent = await serf('serf-c', '127.0.0.15', key.toString('base64'));
    const wrong = await ourNode('rollcall-wrong', '127.0.0.16', { keys: [randomBytes(32)] });
    assert.equal(await wrong.join([{ host: agent.host, port: agent.port }]), 0);
    assert.equal(await wrong.ping({ host: agent.host, port: agent.port }, 'serf-c', 1000), false);
    assert.ok(wrong.net.stats.dropped.decrypt >= 1, `decrypt drops: ${wrong.net.stats.dropped.decrypt}`);
    assert.deepEqual(wrong.members(), []);
    assert.equal(find(await agent.members(), 'rollcall-wrong'), undefined);

    const right = await ourNode('rollcall-right', '127.0.0.17', { keys: [key] });
    assert.equal(await right.join([{ host: agent.host, port: agent.port }]), 1);
    await eventually(
      'serf lists rollcall-right alive',
      () => agent.members(),
      (m) => find(m, 'rollcall-right')?.status === 'alive',
    );
    assert.equal(find(await agent.members(), 'rollcall-wrong'), undefined, 'the wrong key never got in');
    assert.equal(await right.ping({ host: agent.host, port: agent.port }, 'serf-c', 1000), true);
  });
});
