/**
 * The wire codecs against the live Go peer (Debian's memberlist 0.2.2 with go-msgpack 0.5.5):
 * its encoders still produce the stored golden bytes, it decodes what rollcall encodes for random
 * inputs to the same values, and rollcall's encoding of those inputs is byte-identical to Go's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { compressMessage } from '../../src/adapters/gossip/wire/layers.js';
import { lzwDecompress } from '../../src/adapters/gossip/wire/lzw.js';
import {
  type Alive,
  decodeCompress,
  decodePushPull,
  encodeAlive,
  encodeIndirectPing,
  encodePing,
  encodePushPull,
  encodeSuspect,
  type IndirectPing,
  type Ping,
  type PushNodeState,
  type Suspect,
} from '../../src/adapters/gossip/wire/messages.js';
import { encryptPayload } from '../../src/adapters/gossip/wire/security.js';
import { type GoMemberlistProcess, goldenCodec, goMemberlistSkip } from '../peers/go-memberlist.js';
import { goldenKeys, goldenPushPullInputs } from './fixtures/golden-inputs.js';
import { bytes, golden, hex } from './wire-golden.js';

const skip = goMemberlistSkip();
const b64 = (b: Uint8Array | undefined) => (b === undefined || b.length === 0 ? null : Buffer.from(b).toString('base64'));

const name = fc.string({ maxLength: 40 }).map((s) => s.replace(/\uFFFD/g, ''));
const addr = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }));
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const vsn = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 255 })).map(([p, d]) => Uint8Array.of(1, 5, p, d, d, d));

const ping: fc.Arbitrary<Ping> = fc.record({
  seqNo: u32,
  node: name,
  sourceAddr: fc.option(addr, { nil: undefined }),
  sourcePort: fc.option(u16, { nil: undefined }),
  sourceNode: fc.option(name, { nil: undefined }),
});
const indirect: fc.Arbitrary<IndirectPing> = fc.record({ seqNo: u32, target: addr, port: u16, node: name, nack: fc.boolean() });
const suspect: fc.Arbitrary<Suspect> = fc.record({ incarnation: u32, node: name, from: name });
const alive: fc.Arbitrary<Alive> = fc.record({
  incarnation: u32,
  node: name,
  addr,
  port: u16,
  meta: fc.uint8Array({ maxLength: 512 }),
  vsn,
});
const pushNode: fc.Arbitrary<PushNodeState> = fc.record({
  name,
  addr,
  port: u16,
  meta: fc.uint8Array({ maxLength: 300 }),
  incarnation: u32,
  state: fc.integer({ min: 0, max: 3 }),
  vsn,
});

describe('wire: codecs against the live Go memberlist peer', { skip, timeout: 300_000 }, () => {
  let go: GoMemberlistProcess;
  before(async () => {
    go = await goldenCodec();
  });
  after(() => go?.stop());

  it('Go still writes the stored golden bytes for every message type', async () => {
    const live = (await go.call({ cmd: 'messages' })).cases as { name: string; hex: string }[];
    assert.deepEqual(
      live.map((c) => [c.name, c.hex]),
      golden.messages.map((c) => [c.name, c.hex]),
    );
  });

  it('Go decodes rollcall pings, indirect pings, suspects and alives to the values encoded, and writes the same bytes', async () => {
    const samples = [
      ...fc.sample(ping, 60).map((v) => ({ type: 0, wire: encodePing(v), want: goPing(v) })),
      ...fc.sample(indirect, 40).map((v) => ({ type: 1, wire: encodeIndirectPing(v), want: goIndirect(v) })),
      ...fc
        .sample(suspect, 40)
        .map((v) => ({ type: 3, wire: encodeSuspect(v), want: { Incarnation: v.incarnation, Node: v.node, From: v.from } })),
      ...fc.sample(alive, 60).map((v) => ({ type: 4, wire: encodeAlive(v), want: goAlive(v) })),
    ];
    for (const s of samples) {
      const r = await go.call({ cmd: 'decode', type: s.type, body: hex(s.wire.subarray(1)) });
      assert.deepEqual(r.value, s.want, `Go decoded ${hex(s.wire)}`);
    }
  });

  it('push/pull: Go decodes ours, and writes the same bytes for random states', async () => {
    const states = fc.sample(
      fc.record({ join: fc.boolean(), nodes: fc.array(pushNode, { maxLength: 30 }), userState: fc.uint8Array({ maxLength: 400 }) }),
      25,
    );
    for (const s of [...goldenPushPullInputs, ...states]) {
      const ours = encodePushPull(s);
      const r = await go.call({ cmd: 'decodepushpull', body: hex(ours.subarray(1)) });
      assert.equal(r.join, s.join);
      assert.equal(r.user, hex(s.userState));
      assert.deepEqual(
        r.nodes,
        s.nodes.map((n) => ({
          Name: n.name,
          Addr: b64(n.addr),
          Port: n.port,
          Meta: b64(n.meta),
          Incarnation: n.incarnation,
          State: n.state,
          Vsn: b64(n.vsn),
        })),
      );
      const nodes = s.nodes.map((n) => ({
        Name: n.name,
        Addr: b64(n.addr),
        Port: n.port,
        Meta: b64(n.meta),
        Incarnation: n.incarnation,
        State: n.state,
        Vsn: b64(n.vsn),
      }));
      const goBytes = (await go.call({ cmd: 'pushpull', join: s.join, nodes, user: hex(s.userState) })).hex as string;
      assert.equal(hex(ours), goBytes);
      assert.equal(hex(encodePushPull(decodePushPull(bytes(goBytes).subarray(1)))), goBytes);
    }
  });
  it('LZW: Go inflates what rollcall compresses, and compresses random data to the same bytes', async () => {
    const inputs = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 5000 }),
        fc
          .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 2000 })), { maxLength: 20 })
          .map((runs) => Uint8Array.from(runs.flatMap(([b, n]) => new Array<number>(n).fill(b)))),
      ),
      40,
    );
    for (const input of inputs) {
      const ours = compressMessage(input);
      const r = await go.call({ cmd: 'decompress', body: hex(ours.subarray(1)) });
      assert.equal(r.hex, hex(input));
      const goBytes = (await go.call({ cmd: 'compress', body: hex(input) })).hex as string;
      assert.equal(hex(ours), goBytes);
      assert.equal(hex(lzwDecompress(decodeCompress(bytes(goBytes).subarray(1)).buf, 1 << 20)), hex(input));
    }
  });

  it('AES-GCM: Go decrypts what rollcall encrypts (versions 0 and 1, every key size, with AAD) and refuses a wrong key', async () => {
    const msg = bytes(golden.plaintext);
    for (const key of Object.values(goldenKeys)) {
      for (const vsn of [0, 1] as const) {
        for (const aad of [new Uint8Array(0), Buffer.from('rollcall-label')]) {
          const sealed = encryptPayload(msg, key, aad, vsn);
          const r = await go.call({ cmd: 'decrypt', keys: [hex(goldenKeys.k24), hex(key)], body: hex(sealed), data: hex(aad) });
          assert.equal(r.hex, golden.plaintext);
        }
      }
    }
    const sealed = encryptPayload(msg, goldenKeys.k16, new Uint8Array(0), 1);
    const wrong = await go.request({ cmd: 'decrypt', keys: [hex(goldenKeys.k32)], body: hex(sealed), data: '' });
    assert.match(String(wrong.error), /no installed keys could decrypt/i);
  });
});

function goSource(v: Ping): Record<string, unknown> {
  return { SourceAddr: b64(v.sourceAddr), SourcePort: v.sourcePort ?? 0, SourceNode: v.sourceNode ?? '' };
}

function goPing(v: Ping): Record<string, unknown> {
  return { SeqNo: v.seqNo, Node: v.node, ...goSource(v) };
}

function goIndirect(v: IndirectPing): Record<string, unknown> {
  return { SeqNo: v.seqNo, Target: b64(v.target), Port: v.port, Node: v.node, Nack: v.nack, ...goSource(v) };
}

function goAlive(v: Alive): Record<string, unknown> {
  return { Incarnation: v.incarnation, Node: v.node, Addr: b64(v.addr), Port: v.port, Meta: b64(v.meta), Vsn: b64(v.vsn) };
}
