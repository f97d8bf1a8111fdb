/**
 * Our Update, Service JSON and push/pull state codecs against Go's: a peer built on Go's protobuf
 * runtime and encoding/json with Go Micro's field numbers and tags (test/peers/go-micro-gossip),
 * both as a codec and as a live Go Micro registry member on memberlist, talking to Debian's Go
 * memberlist peer that carries our bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeGoState, encodeGoState } from '../../src/adapters/gossip/registry/service-json.js';
import {
  decodeUpdate,
  encodeUpdate,
  goMicroUpdateMetadata,
  readStamp,
  serviceFromGoJson,
  serviceToGoJson,
  stampMetadata,
  type Update,
  UpdateAction,
  UpdateType,
} from '../../src/adapters/gossip/registry/update.js';
import type { Service } from '../../src/registry.js';
import { normalizeService } from '../../src/service.js';
import type { GoMemberlistProcess } from '../peers/go-memberlist.js';
import { startGoMemberlist } from '../peers/go-memberlist.js';
import { goMicroCodec, goMicroGossipSkip, startGoMicroGossip } from '../peers/go-micro-gossip.js';
import { goMicroFixtures } from './fixtures/go-micro-golden.js';

const skip = goMicroGossipSkip();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

interface GoUpdate {
  expires: string;
  type: number;
  action: number;
  metadata: Record<string, string>;
  data: string;
}

function sameAsGo(ours: Update, go: GoUpdate): void {
  assert.deepEqual(
    { expires: go.expires, type: go.type, action: go.action, metadata: { ...go.metadata }, data: go.data },
    { expires: ours.expires.toString(), type: ours.type, action: ours.action, metadata: { ...ours.metadata }, data: hex(ours.data) },
  );
}

const services: Service[] = [
  normalizeService({ name: 'a', nodes: [{ id: 'a-1', address: '10.0.0.1:80' }] }),
  normalizeService({
    name: 'go.micro.srv.greeter',
    version: 'v<1>&"2"',
    metadata: { é: '\u2028\u2029', z: '' },
    endpoints: [
      {
        name: 'Say.Hello',
        request: {
          name: 'Request',
          type: 'Request',
          values: [{ name: 'name', type: 'string', values: [{ name: 'x', type: 'y', values: null }] }],
        },
        response: null,
        metadata: { stream: 'false' },
      },
    ],
    nodes: [
      { id: 'n2', address: '[::1]:8080', metadata: { protocol: 'mucp', registry: 'gossip' } },
      { id: 'n1', address: 'host.example:1', metadata: {} },
    ],
  }),
];

describe('Update codec against Go protobuf', { skip }, () => {
  let go: GoMemberlistProcess;
  before(async () => {
    go = await goMicroCodec();
  });
  after(() => go?.stop());

  it('committed fixtures from Go still match Go and our codec byte for byte', async () => {
    for (const f of goMicroFixtures) {
      const goBytes = String((await go.call({ cmd: 'encode', ...f.update })).hex);
      assert.equal(goBytes, f.hex, f.name);
      const ours = decodeUpdate(unhex(f.hex));
      sameAsGo(ours, f.update);
      assert.equal(hex(encodeUpdate(ours)), f.hex, f.name);
    }
  });

  it('random updates: ours encode to the bytes Go writes, and each side decodes the other', async () => {
    const updates = fc.sample(
      fc.record({
        expires: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        type: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        action: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
        metadata: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 20 }), {
          maxKeys: 5,
        }),
        data: fc.uint8Array({ maxLength: 200 }),
      }),
      150,
    );
    for (const u of updates) {
      const ours = encodeUpdate(u);
      const goUpdate = { expires: u.expires.toString(), type: u.type, action: u.action, metadata: u.metadata, data: hex(u.data) };
      const goBytes = String((await go.call({ cmd: 'encode', ...goUpdate })).hex);
      assert.equal(hex(ours), goBytes);
      sameAsGo(decodeUpdate(unhex(goBytes)), goUpdate);
      sameAsGo(u, (await go.call({ cmd: 'decode', data: hex(ours) })).update as GoUpdate);
    }
  });

  it('Go refuses what we refuse among truncated and overflowing varints', async () => {
    for (const bad of ['08', '18ffffffffffffffffff02', '3a05616263', '32041202c328', '0001']) {
      assert.throws(() => decodeUpdate(unhex(bad)));
      assert.ok((await go.request({ cmd: 'decode', data: bad })).error, bad);
    }
  });

  it("our Service JSON is the bytes Go's encoding/json writes after reading it", async () => {
    for (const service of services) {
      const ours = serviceToGoJson(service);
      const goJson = String((await go.call({ cmd: 'servicejson', data: hex(ours) })).hex);
      assert.equal(Buffer.from(unhex(goJson)).toString(), Buffer.from(ours).toString());
      assert.deepEqual(serviceFromGoJson(unhex(goJson)), service);
    }
  });

  it('Go reads nulls and capitalised keys as we do', async () => {
    const json = Buffer.from(
      '{"Name":"s","VERSION":"1","metadata":null,"endpoints":null,"nodes":[{"Id":"n","address":"10.0.0.1:1","metadata":null}]}',
    );
    const goJson = unhex(String((await go.call({ cmd: 'servicejson', data: json.toString('hex') })).hex));
    assert.deepEqual(serviceFromGoJson(goJson), serviceFromGoJson(json));
    assert.equal(serviceFromGoJson(json).version, '1');
  });

  it('our push/pull state is the bytes Go writes for map[name][]Service', async () => {
    const ours = encodeGoState([...services, normalizeService({ ...services[0], version: '2' } as Service)]);
    const goJson = unhex(String((await go.call({ cmd: 'statejson', data: hex(ours) })).hex));
    assert.equal(Buffer.from(goJson).toString(), Buffer.from(ours).toString());
    assert.equal(decodeGoState(goJson).services.length, 3);
  });
});

describe('live Go Micro gossip registry member', { skip }, () => {
  const opened: GoMemberlistProcess[] = [];
  after(async () => {
    await Promise.all(opened.map((p) => p.stop()));
  });

  for (const key of [undefined, new Uint8Array(Buffer.from('micro-gossip-key'))]) {
    it(`its updates decode in ours and ours reach its registry${key ? ' (16-byte key)' : ''}`, async () => {
      const micro = await startGoMicroGossip({ key });
      opened.push(micro);
      // Debian's Go memberlist peer carries our bytes as a plain user broadcast, as our adapter will.
      const carrier = await startGoMemberlist({
        name: `carrier-${process.pid}-${key ? 'k' : 'p'}`,
        join: [micro.address],
        keys: key ? [key] : undefined,
        quiet: true,
      });
      opened.push(carrier);

      // Go -> ours.
      const goService = {
        name: 'go.micro.srv.greeter',
        version: '1.0.0',
        metadata: { a: 'b' },
        endpoints: [{ name: 'Say.Hello', request: { name: 'Request', type: 'Request', values: null }, response: null, metadata: null }],
        nodes: [{ id: 'greeter-1', address: '127.0.0.1:9000', metadata: { protocol: 'mucp' } }],
      };
      const sent = await micro.register(goService, 30_000);
      const heard = await carrier.waitFor((l) => l.event === 'user' && l.payload === sent, 15_000, 'the Go Micro create');
      const update = decodeUpdate(unhex(String(heard.payload)));
      assert.equal(update.type, UpdateType.service);
      assert.equal(update.action, UpdateAction.create);
      assert.deepEqual({ ...update.metadata }, goMicroUpdateMetadata);
      assert.equal(readStamp(update.metadata), undefined);
      const expiresInMs = Number(update.expires / 1_000_000n) - Date.now();
      assert.ok(expiresInMs > 20_000 && expiresInMs <= 30_000, `expires in ${expiresInMs} ms`);
      assert.deepEqual(serviceFromGoJson(update.data), normalizeService(goService));
      const goDelete = await micro.deregister(goService);
      const heardDelete = await carrier.waitFor((l) => l.event === 'user' && l.payload === goDelete, 15_000, 'the Go Micro delete');
      const del = decodeUpdate(unhex(String(heardDelete.payload)));
      assert.equal(del.action, UpdateAction.delete);
      assert.equal(del.expires, 0n);

      // Ours -> Go.
      const ours = normalizeService({
        name: 'rollcall.svc',
        version: '2',
        nodes: [{ id: 'r-1', address: '127.0.0.1:7000', metadata: { k: 'v' } }],
      });
      const stamp = { origin: carrier.name, seq: 1n, ttlMs: 60_000 };
      const create = encodeUpdate({
        expires: BigInt(Date.now() + 60_000) * 1_000_000n,
        type: UpdateType.service,
        action: UpdateAction.create,
        metadata: stampMetadata(stamp),
        data: serviceToGoJson(ours),
      });
      await carrier.call({ cmd: 'broadcast', payload: hex(create) });
      const got = await micro.waitFor(
        (l) => l.event === 'update' && (l.service as { name?: string })?.name === 'rollcall.svc',
        15_000,
        'our create in Go',
      );
      assert.equal(got.action, UpdateAction.create);
      assert.deepEqual(serviceFromGoJson(Buffer.from(JSON.stringify(got.service))), ours);
      assert.deepEqual(Object.keys((await micro.services())['rollcall.svc'] ?? []).length, 1);
      const remove = encodeUpdate({
        expires: 0n,
        type: UpdateType.service,
        action: UpdateAction.delete,
        metadata: stampMetadata({ ...stamp, seq: 2n }),
        data: serviceToGoJson(ours),
      });
      await carrier.call({ cmd: 'broadcast', payload: hex(remove) });
      await micro.waitFor((l) => l.event === 'update' && l.action === UpdateAction.delete, 15_000, 'our delete in Go');
      assert.equal((await micro.services())['rollcall.svc'], undefined);

      // A 10 KB service (several packets' worth) as a reliable user message over TCP, as our adapter sends large ones.
      const large = normalizeService({
        name: 'large.svc',
        metadata: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(500)])),
        nodes: [{ id: 'l-1', address: '127.0.0.1:7001' }],
      });
      const big = encodeUpdate({
        expires: 0n,
        type: UpdateType.service,
        action: UpdateAction.create,
        metadata: stampMetadata({ ...stamp, seq: 3n }),
        data: serviceToGoJson(large),
      });
      assert.ok(big.length > 10_000, `${big.length} bytes`);
      await carrier.call({ cmd: 'send', to: micro.name, payload: hex(big), reliable: true });
      const gotLarge = await micro.waitFor(
        (l) => l.event === 'update' && (l.service as { name?: string })?.name === 'large.svc',
        15_000,
        'our 10 KB create in Go',
      );
      assert.deepEqual(serviceFromGoJson(Buffer.from(JSON.stringify(gotLarge.service))), large);
      assert.equal(micro.events.filter((l) => l.event === 'dropped').length, 0);
    });
  }

  it('sends as Go Micro does: once from a member without seeds, never over the UDP budget', async () => {
    const lonely = await startGoMicroGossip({ async: true });
    opened.push(lonely);
    const seeded = await startGoMicroGossip({ join: [lonely.address] });
    opened.push(seeded);
    const carrier = await startGoMemberlist({ name: `listener-${process.pid}`, join: [lonely.address], quiet: true });
    opened.push(carrier);
    const small = (name: string) => ({
      name,
      version: '',
      metadata: null,
      endpoints: null,
      nodes: [{ id: `${name}-1`, address: '127.0.0.1:1', metadata: null }],
    });
    // NumNodes = 0 seeds gives a retransmit limit of 0: the first gossip target gets it, nobody else (micro/go-micro#414).
    const once = await lonely.register(small('from.lonely'), 30_000);
    // With one seed it is sent three times; one over ~1,400 bytes never fits a packet and is lost silently (#404).
    const sent = await seeded.register(small('from.seeded'), 30_000);
    const lost = await seeded.register({ ...small('too.big'), metadata: { pad: 'x'.repeat(3000) } }, 30_000);
    await carrier.waitFor((l) => l.event === 'user' && l.payload === sent, 15_000, "the seeded member's update");
    await new Promise((r) => setTimeout(r, 2000));
    const heardByCarrier = carrier.events.filter((l) => l.event === 'user').map((l) => l.payload);
    const heardBySeeded = seeded.events.filter((l) => l.event === 'update' && (l.service as { name?: string }).name === 'from.lonely');
    assert.equal(heardByCarrier.filter((p) => p === once).length + heardBySeeded.length, 1, 'sent exactly once');
    assert.ok(!heardByCarrier.includes(lost), 'an update over the packet budget was sent');
    assert.equal(lonely.events.filter((l) => l.event === 'update' && (l.service as { name?: string }).name === 'too.big').length, 0);
    assert.ok(lost.length / 2 > 3000);
  });

  it('its join state decodes in ours, and ours merges in Go', async () => {
    const micro = await startGoMicroGossip();
    opened.push(micro);
    const goService = {
      name: 'state.svc',
      version: '',
      metadata: null,
      endpoints: null,
      nodes: [{ id: 's-1', address: '127.0.0.1:1', metadata: null }],
    };
    await micro.register(goService, 30_000);
    const state = unhex(String((await micro.call({ cmd: 'localstate' })).hex));
    assert.deepEqual(decodeGoState(state), { services: [normalizeService(goService)], dropped: 0 });

    // A member whose push/pull user state is our encoding joins: Go Micro merges it on join.
    const ours = normalizeService({ name: 'pushed.svc', nodes: [{ id: 'p-1', address: '127.0.0.1:2' }] });
    const joiner = await startGoMemberlist({ name: `pusher-${process.pid}`, userState: encodeGoState([ours]), quiet: true });
    opened.push(joiner);
    await micro.call({ cmd: 'members' });
    await joiner.call({ cmd: 'join', addrs: [micro.address] });
    const merged = await micro.waitFor((l) => l.event === 'merge', 15_000, 'merge');
    assert.deepEqual(
      (merged.services as unknown[]).map((s) => serviceFromGoJson(Buffer.from(JSON.stringify(s)))),
      [ours],
    );
  });
});
