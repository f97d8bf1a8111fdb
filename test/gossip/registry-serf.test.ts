/**
 * The gossip registry's `serf` profile against real serf agents (serf 0.9.4) on 127.0.0.x: serf
 * lists a rollcall member alive with its tags and `left` after close (`failed` after a crash);
 * registrations travel as serf user events that a serf agent decodes and hands to its event
 * handler, and one over serf's event limit goes to rollcall members only; and a registration reaches another rollcall member only through a serf agent in the
 * middle, relayed as it arrives or from the agent's push/pull events to a member that joins later.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createGossipRegistry } from '../../src/adapters/gossip/index.js';
import { decodeMessage, parseServiceJson } from '../../src/adapters/gossip/registry/message.js';
import { GossipRegistry } from '../../src/adapters/gossip/registry/registry.js';
import { SERF_EVENT_NAME } from '../../src/adapters/gossip/registry/serf-profile.js';
import { resolveGossipSettings } from '../../src/adapters/gossip/registry/settings.js';
import { local } from '../../src/adapters/gossip/swim/config.js';
import { suspicionTimeout } from '../../src/adapters/gossip/swim/timing.js';
import { RollcallError } from '../../src/errors.js';
import { systemClock } from '../../src/internal/clock.js';
import { type Address, sameAddress, type Transport } from '../../src/internal/transport.js';
import { bindNetTransport } from '../../src/internal/transport-net.js';
import type { Registry } from '../../src/registry.js';
import { type SerfAgent, type SerfMember, serfSkip, startSerf } from '../peers/serf.js';

const skip = serfSkip();

/**
 * Serf is started with `-profile local` and we use the `local` preset: both probe every second.
 * A leave is announced straight to the agent, so it shows within a few of its gossip rounds; five
 * probe intervals leave room for a loaded machine.
 */
const LEAVE_SEEN_MS = 5 * local.probeInterval;
/**
 * A crash is found by probing. With no other member left to confirm the suspicion, serf waits the
 * longest suspicion: suspicionMaxTimeoutMult × the shortest (local preset, 3 members), plus a few
 * probe rounds to start it.
 */
const CRASH_SEEN_MS =
  local.suspicionMaxTimeoutMult * suspicionTimeout(local.suspicionMult, 3, local.probeInterval) + 5 * local.probeInterval;
/**
 * Relay through a serf agent: it passes a user event on a few times to random members, which can all
 * miss one; that member gets the event from the agent's next push/pull (recent events ride on it).
 */
const RELAY_MS = local.pushPullInterval + 5 * local.probeInterval;

const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
});

async function serf(name: string, host: string, eventHandlers?: string[]): Promise<SerfAgent> {
  const agent = await startSerf({ name, host, tags: { role: 'peer' }, eventHandlers });
  stops.push(() => agent.stop());
  return agent;
}

function track<T extends Registry>(registry: T): T {
  stops.push(() => registry.close());
  return registry;
}

const seedOf = (agent: SerfAgent) => `${agent.host}:${agent.port}`;

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms: last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const find = (members: SerfMember[], name: string) => members.find((m) => m.name === name);

/**
 * A real socket transport that neither sends to nor accepts from `blocked` addresses: two
 * members that cannot reach each other, so whatever passes between them went through a third.
 */
function partitioned(inner: Transport, blocked: () => Address[]): Transport & { dropped: number } {
  const isBlocked = (a: Address) => blocked().some((b) => sameAddress(a, b));
  const t = {
    dropped: 0,
    get address() {
      return inner.address;
    },
    get advertiseAddress() {
      return inner.advertiseAddress;
    },
    get stats() {
      return inner.stats;
    },
    send(data: Uint8Array, to: Address) {
      if (!isBlocked(to)) return inner.send(data, to);
      t.dropped++;
      return Promise.resolve(systemClock.now());
    },
    dial(to: Address, timeoutMs: number) {
      if (!isBlocked(to)) return inner.dial(to, timeoutMs);
      t.dropped++;
      return Promise.reject(new RollcallError('UNAVAILABLE', 'partitioned', { adapter: 'gossip' }));
    },
    listen(handlers: Parameters<Transport['listen']>[0]) {
      inner.listen({
        datagram: (d) => (isBlocked(d.from) ? void t.dropped++ : handlers.datagram(d)),
        stream: (s) => {
          if (!isBlocked(s.remote)) return handlers.stream(s);
          t.dropped++;
          s.destroy();
        },
      });
    },
    close: () => inner.close(),
  };
  return t;
}

/** A rollcall member in the serf profile on `bind`, joined to `agent`, closed after the file. */
async function serfMember(name: string, bind: string, agent: SerfAgent, tags?: Record<string, string>) {
  return track(
    await createGossipRegistry({
      name,
      profile: 'serf',
      preset: 'local',
      bind,
      port: 0,
      address: seedOf(agent),
      ...(tags ? { tags } : {}),
    }),
  );
}

/** A serf-profile registry on `host`, joined to `seed`, whose transport drops traffic with `blocked`. */
async function partitionedMember(name: string, host: string, seed: string, blocked: () => Address[]) {
  const transport = partitioned(await bindNetTransport({ host, port: 0, clock: systemClock }), blocked);
  const options = { name, profile: 'serf' as const, preset: 'local' as const, address: seed };
  const settings = { ...resolveGossipSettings(options), transport };
  const registry = track(await GossipRegistry.start(options, settings));
  return { registry, transport };
}

const greeter = (id: string, address: string) => ({
  name: 'greeter',
  version: '1.0.0',
  nodes: [{ id, address, metadata: { protocol: 'http' } }],
});

describe('gossip registry: serf profile', { skip }, () => {
  it('serf profile: listed alive with tags, `left` after close, `failed` after a crash', async () => {
    const agent = await serf('serf-p', '127.0.0.31');
    const ours = await serfMember('rollcall-p', '127.0.0.32', agent, { role: 'api', version: '1.2.3' });
    const listed = find(
      await eventually(
        'serf lists rollcall-p alive',
        () => agent.members(),
        (m) => find(m, 'rollcall-p')?.status === 'alive',
        LEAVE_SEEN_MS,
      ),
      'rollcall-p',
    ) as SerfMember;
    assert.deepEqual(listed.tags, { role: 'api', version: '1.2.3', rollcall: '1' });
    assert.deepEqual(listed.protocol, { min: 2, max: 5, version: 4 });
    const seen = await ours.members?.();
    assert.deepEqual(seen?.map((m) => [m.name, m.status, m.tags]).sort(), [
      ['rollcall-p', 'alive', { role: 'api', version: '1.2.3', rollcall: '1' }],
      ['serf-p', 'alive', { role: 'peer' }],
    ]);

    // A crashed member for contrast: serf must tell the two apart.
    const crashing = (await serfMember('rollcall-crash', '127.0.0.33', agent)) as unknown as GossipRegistry;
    await eventually(
      'serf lists rollcall-crash alive',
      () => agent.members(),
      (m) => find(m, 'rollcall-crash')?.status === 'alive',
      LEAVE_SEEN_MS,
    );

    await ours.close();
    await crashing.crash();
    const statuses = new Set<string>();
    await eventually(
      'serf lists rollcall-p left',
      async () => {
        const status = find(await agent.members(), 'rollcall-p')?.status ?? 'absent';
        statuses.add(status);
        return status;
      },
      (s) => s === 'left',
      LEAVE_SEEN_MS,
    );
    await eventually(
      'serf lists rollcall-crash failed',
      async () => find(await agent.members(), 'rollcall-crash')?.status,
      (s) => s === 'failed',
      CRASH_SEEN_MS,
    );
    // By now a member that only went silent is failed: ours is still left, and never looked failed.
    assert.equal(find(await agent.members(), 'rollcall-p')?.status, 'left');
    assert.ok(!statuses.has('failed'), `statuses seen: ${[...statuses]}`);
  });

  it('a registration travels as a serf user event: the agent hands our Update to its handler', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-serf-events-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    // One file per event, named by its Lamport time; the payload arrives on stdin.
    const agent = await serf('serf-e', '127.0.0.34', [`user:${SERF_EVENT_NAME}=cat > ${dir}/event-$SERF_USER_LTIME`]);
    const ours = await serfMember('rollcall-e', '127.0.0.35', agent);
    await ours.register(greeter('greeter-e', '127.0.0.35:8080'), { ttl: 60_000 });
    const files = await eventually(
      'the agent ran its handler',
      async () => readdirSync(dir),
      (f) => f.length > 0,
      RELAY_MS,
    );
    // Serf's handler appends a newline to a payload that does not end with one.
    const written = readFileSync(join(dir, files[0] as string));
    assert.equal(written.at(-1), 0x0a);
    const update = decodeMessage(written.subarray(0, -1));
    assert.equal(update.action, 'create');
    assert.equal(update.origin, 'rollcall-e');
    const service = parseServiceJson(update.data) as { name: string; nodes: { id: string }[] };
    assert.equal(service.name, 'greeter');
    assert.deepEqual(
      service.nodes.map((n) => n.id),
      ['greeter-e'],
    );
    assert.match(agent.log(), new RegExp(`messageUserEventType: ${SERF_EVENT_NAME}`));

    // Over serf's 512-byte user event: TCP to rollcall members only, never a serf event.
    const peer = await serfMember('rollcall-e2', '127.0.0.40', agent);
    await eventually(
      'rollcall-e sees rollcall-e2',
      async () => (await ours.members?.())?.length,
      (n) => n === 3,
      RELAY_MS,
    );
    const large = greeter('greeter-large', '127.0.0.35:8081');
    (large.nodes[0] as { metadata: Record<string, string> }).metadata.blob = 'x'.repeat(400);
    await ours.register(large, { ttl: 60_000 });
    const got = await eventually(
      'rollcall-e2 gets the large registration',
      () => peer.getService('greeter').catch(() => []),
      (s) => s[0]?.nodes.some((n) => n.id === 'greeter-large') === true,
      RELAY_MS,
    );
    assert.equal(got[0]?.nodes.find((n) => n.id === 'greeter-large')?.metadata.blob?.length, 400);
    assert.ok(Number(ours.stats().largeUpdates) >= 1, 'sent as a large update');
    // Several of the agent's gossip rounds later, its handler has still seen no event for it.
    await new Promise((r) => setTimeout(r, 5 * local.gossipInterval));
    const handled = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'latin1'));
    assert.ok(handled.length >= 1 && !handled.some((text) => text.includes('greeter-large')), `${handled.length} events handled`);
  });

  it('a registration reaches a rollcall member only through a serf agent in the middle', async () => {
    const agent = await serf('serf-m', '127.0.0.36');
    const addresses: Record<string, Address> = {};
    const others = (self: string) => () => Object.entries(addresses).flatMap(([n, a]) => (n === self ? [] : [a]));
    const a = await partitionedMember('rollcall-ma', '127.0.0.37', seedOf(agent), others('a'));
    addresses.a = a.registry.address;
    const b = await partitionedMember('rollcall-mb', '127.0.0.38', seedOf(agent), others('b'));
    addresses.b = b.registry.address;

    /** `member` holds a's one node, which reached it only through the agent. */
    const seesNode = async (label: string, member: Registry) => {
      const found = await eventually(
        `${label} sees a’s node`,
        () => member.getService('greeter').catch(() => []),
        (s) => s.length === 1,
        RELAY_MS,
      );
      assert.deepEqual(
        found[0]?.nodes.map((n) => n.id),
        ['greeter-m'],
      );
    };
    const registration = await a.registry.register(greeter('greeter-m', '127.0.0.37:8080'), { ttl: 60_000 });
    await seesNode('b', b.registry);
    assert.ok(a.transport.dropped + b.transport.dropped > 0, 'a and b tried to talk directly and could not');

    // A member that joins later, also cut off from a: the agent's push/pull carries the recent event.
    const c = await partitionedMember('rollcall-mc', '127.0.0.39', seedOf(agent), others('c'));
    addresses.c = c.registry.address;
    await seesNode('c', c.registry);

    // The delete goes the same way (a stays in the cluster, so only the event can remove the node).
    await registration.deregister();
    await eventually(
      'b no longer sees a’s node',
      () => b.registry.getService('greeter').catch(() => []),
      (s) => s.length === 0,
      RELAY_MS,
    );
  });
});
