/**
 * messages.ts and compound.ts against Go: every message type encodes to the bytes Debian's
 * memberlist 0.2.2 (go-msgpack 0.5.5) writes for the same input, and decodes back from them.
 * The bytes are the stored golden vectors (fixtures/go-memberlist-golden.json, made by
 * fixtures/make-golden.ts from the Go peer); wire-go-peer.test.ts checks them against the live peer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCompound, encodeCompound, encodeCompounds } from '../../src/adapters/gossip/wire/compound.js';
import { WireError } from '../../src/adapters/gossip/wire/errors.js';
import {
  decodeAlive,
  decodeNack,
  decodePing,
  decodePushPull,
  decodeSuspect,
  decodeUserStream,
  encodeAlive,
  encodePushPull,
  encodeUserPacket,
  encodeUserStream,
} from '../../src/adapters/gossip/wire/messages.js';
import { goldenMessageInputs, goldenPushPullInputs } from './fixtures/golden-inputs.js';
import { bytes, decodeGolden, encodeGolden, golden, hex, normalize } from './wire-golden.js';

function goldenHex(name: string): string {
  const c = golden.messages.find((m) => m.name === name);
  assert.ok(c, `golden vector ${name} exists`);
  return c.hex;
}

describe('wire messages: Go memberlist 0.2.2 golden bytes', () => {
  it('covers every input the Go peer encoded', () => {
    assert.deepEqual(goldenMessageInputs.map((m) => m.name).sort(), golden.messages.map((m) => m.name).sort());
  });

  for (const input of goldenMessageInputs) {
    it(`encode: ${input.name} is byte-identical to Go`, () => {
      assert.equal(hex(encodeGolden(input)), goldenHex(input.name));
    });

    it(`decode: ${input.name} from Go's bytes gives the input back`, () => {
      const wire = bytes(goldenHex(input.name));
      assert.equal(wire[0], input.type);
      assert.deepEqual(normalize(decodeGolden(input.type, wire.subarray(1))), normalize(input.value));
    });
  }

  for (const input of goldenPushPullInputs) {
    const vector = golden.pushPull.find((p) => p.name === input.name)!;
    it(`encode: push/pull ${input.name} is byte-identical to Go`, () => {
      assert.equal(hex(encodePushPull(input)), vector.hex);
    });
    it(`decode: push/pull ${input.name} from Go's bytes`, () => {
      const wire = bytes(vector.hex);
      assert.equal(wire[0], 6);
      const { name: _name, ...expected } = input;
      assert.deepEqual(normalize(decodePushPull(wire.subarray(1))), normalize(expected));
    });
  }

  it('user message on a stream: [8]{UserMsgLen}[payload] as Go writes it, and back', () => {
    const payload = bytes(golden.userStream.payload);
    assert.equal(hex(encodeUserStream(payload)), golden.userStream.hex);
    assert.equal(hex(decodeUserStream(bytes(golden.userStream.hex).subarray(1))), golden.userStream.payload);
  });

  it('user message in a packet is the type byte and the payload', () => {
    assert.equal(hex(encodeUserPacket(Uint8Array.of(1, 2, 3))), '08010203');
  });

  it('compound: [7][n][lengths][parts] as makeCompoundMessage writes it, and split back', () => {
    const parts = golden.compound.parts.map(bytes);
    assert.equal(hex(encodeCompound(parts)), golden.compound.hex);
    const decoded = decodeCompound(bytes(golden.compound.hex).subarray(1));
    assert.equal(decoded.truncated, 0);
    assert.deepEqual(decoded.parts.map(hex), golden.compound.parts);
  });
});

describe('wire messages: go-msgpack v2 integers (memberlist >= 0.5.1)', () => {
  // go-msgpack v2.1.5 codec/msgpack.go EncodeInt: a Go `int` above 127 is written signed
  // (int16/int32/int64) where 0.5 wrote uint; the inputs are those of TestReadRemoteState_Limits in
  // memberlist net_test.go at commit 371698b (pushPullHeader{Nodes: 10_000_000, UserStateLen: 100}).
  it('decode: a v2 push/pull header with Nodes as int32 is read (and refused by the limit)', () => {
    // {Join: false, Nodes: int32 10_000_000, UserStateLen: 100}
    const body = bytes('83a44a6f696ec2a54e6f646573d200989680ac5573657253746174654c656e64');
    assert.throws(
      () => decodePushPull(body),
      (e: unknown) => e instanceof WireError && e.reason === 'limit' && /10000000 nodes/.test(e.message),
    );
  });

  it('decode: a v2 push/pull with int16 counts is read like the 0.5 one', () => {
    const v05 = bytes(golden.pushPull.find((p) => p.name === 'anti-entropy-200-nodes')!.hex).subarray(1);
    // 0.5 wrote Nodes as cc c8 and UserStateLen as cd 01 2c; v2 writes d1 00 c8 and d1 01 2c.
    const v05Hex = hex(v05);
    const header05 = '83a44a6f696ec2a54e6f646573ccc8ac5573657253746174654c656ecd012c';
    assert.ok(v05Hex.startsWith(header05));
    const v2 = bytes(`83a44a6f696ec2a54e6f646573d100c8ac5573657253746174654c656ed1012c${v05Hex.slice(header05.length)}`);
    assert.deepEqual(normalize(decodePushPull(v2)), normalize(decodePushPull(v05)));
  });

  it('decode: str8 and bin are accepted where Go writes raw', () => {
    // ping {Node: str8 "node-a", SeqNo: 42} and alive with Addr as bin8.
    assert.deepEqual(decodePing(bytes('82a44e6f6465d9066e6f64652d61a55365714e6f2a')), { seqNo: 42, node: 'node-a' });
    const alive = decodeAlive(bytes('83a441646472c4047f000001a44e6f6465a16ea356736ec406010502000000'));
    assert.equal(hex(alive.addr), '7f000001');
    assert.equal(hex(alive.vsn), '010502000000');
  });
});

describe('wire messages: rules of the dialect', () => {
  it('decode: unknown keys are skipped, missing keys read as zero', () => {
    // {Extra: [1, {a: nil}], SeqNo: 7}
    assert.deepEqual(decodeNack(bytes('82a54578747261920181a161c0a55365714e6f07')), { seqNo: 7 });
    assert.deepEqual(decodeSuspect(bytes('80')), { incarnation: 0, node: '', from: '' });
  });

  it('decode: a value out of its Go type range is an error, as in Go', () => {
    // Port = 70000 (uint32) into a uint16.
    assert.throws(() => decodePing(bytes('81aa536f75726365506f7274ce00011170')), WireError);
    // SeqNo = -1 into a uint32.
    assert.throws(() => decodeNack(bytes('81a55365714e6fff')), WireError);
  });

  it('decode: an alive whose Vsn has PMin or PMax 0 is refused, as state.go ignores it', () => {
    for (const vsn of ['000502000000', '010002000000', '050102000000']) {
      const wire = encodeAlive({
        incarnation: 1,
        node: 'x',
        addr: Uint8Array.of(1, 2, 3, 4),
        port: 1,
        meta: new Uint8Array(0),
        vsn: bytes(vsn),
      });
      assert.throws(
        () => decodeAlive(wire.subarray(1)),
        (e: unknown) => e instanceof WireError && e.reason === 'malformed',
        vsn,
      );
    }
  });

  it('decode: Meta over 512 bytes is refused in alive and push/pull', () => {
    const big = new Uint8Array(513);
    const alive = encodeAliveUnchecked(big);
    assert.throws(
      () => decodeAlive(alive),
      (e: unknown) => e instanceof WireError && e.reason === 'limit',
    );
    assert.throws(
      () => encodeAlive({ incarnation: 1, node: 'x', addr: new Uint8Array(4), port: 1, meta: big, vsn: new Uint8Array(6) }),
      RangeError,
    );
  });

  it('decode: a push/pull whose header claims more than it carries fails before allocating', () => {
    // {Join: false, Nodes: 1_000_000, UserStateLen: 0} and nothing after it.
    const claim = bytes('83a44a6f696ec2a54e6f646573ce000f4240ac5573657253746174654c656e00');
    assert.throws(
      () => decodePushPull(claim),
      (e: unknown) => e instanceof WireError && e.reason === 'truncated',
    );
    // {Nodes: 0, UserStateLen: 30_000_000}: over the 20 MiB limit.
    const user = bytes('83a44a6f696ec2a54e6f646573 00ac5573657253746174654c656ece01c9c380'.replace(' ', ''));
    assert.throws(
      () => decodePushPull(user),
      (e: unknown) => e instanceof WireError && e.reason === 'limit',
    );
    // Negative counts, as a hostile v2 writer could send.
    assert.throws(
      () => decodePushPull(bytes('81a54e6f646573ff')),
      (e: unknown) => e instanceof WireError && e.reason === 'limit',
    );
  });

  it('compound: at most 255 parts; more become several compounds', () => {
    const parts = Array.from({ length: 600 }, (_, i) => Uint8Array.of(i & 0xff));
    assert.throws(() => encodeCompound(parts), RangeError);
    const many = encodeCompounds(parts);
    assert.deepEqual(
      many.map((c) => c[1]),
      [255, 255, 90],
    );
    const back = many.flatMap((c) => decodeCompound(c.subarray(1)).parts.map((p) => p[0]));
    assert.deepEqual(
      back,
      parts.map((p) => p[0]),
    );
  });

  it('compound: parts cut off by the end are counted, the whole ones kept; a cut length table throws', () => {
    const c = encodeCompound([Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5)]);
    const cut = decodeCompound(c.subarray(1, c.length - 1));
    assert.equal(cut.truncated, 1);
    assert.deepEqual(cut.parts.map(hex), ['0102']);
    assert.throws(
      () => decodeCompound(Uint8Array.of(3, 0, 1)),
      (e: unknown) => e instanceof WireError && e.reason === 'truncated',
    );
  });
});

/** An alive body with any Meta, bypassing the encoder's own check. */
function encodeAliveUnchecked(meta: Uint8Array): Uint8Array {
  const head = Buffer.from('82a44d657461da', 'hex');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(meta.length);
  return new Uint8Array(Buffer.concat([head, len, meta, Buffer.from('a44e6f6465a178', 'hex')]));
}
