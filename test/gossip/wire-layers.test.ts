/**
 * The packet and stream layers against Go's bytes: LZW byte-identical to Go's compress/lzw, the
 * CRC prefix, AES-GCM packets and stream frames Go encrypted, the keyring, labels (the cases of
 * memberlist's label_test.go), memberlist's layer order both ways, and stream framing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import { addCrc, removeCrc } from '../../src/adapters/gossip/wire/crc.js';
import { isWireError, type WireDropReason } from '../../src/adapters/gossip/wire/errors.js';
import { StreamFramer } from '../../src/adapters/gossip/wire/frame.js';
import { Keyring } from '../../src/adapters/gossip/wire/keyring.js';
import { addLabel, labelBytes, labelHeader, readLabel, removeLabel } from '../../src/adapters/gossip/wire/label.js';
import {
  compressMessage,
  decodePacket,
  decodeStreamMessage,
  encodePacket,
  encodeStreamMessage,
  unpackMessages,
  type WireLayers,
} from '../../src/adapters/gossip/wire/layers.js';
import { lzwCompress, lzwDecompress } from '../../src/adapters/gossip/wire/lzw.js';
import { decodeCompress, encodeAck, encodePing, encodePushPull } from '../../src/adapters/gossip/wire/messages.js';
import { decryptPayload, encryptedLength, encryptPayload, streamFrameLength } from '../../src/adapters/gossip/wire/security.js';
import { goldenKeys, goldenLzwInputs, goldenPushPullInputs } from './fixtures/golden-inputs.js';
import { bytes, golden, hex } from './wire-golden.js';

const dropped = (reason: WireDropReason) => (e: unknown) => isWireError(e) && e.reason === reason;

/** The same LZW stream without its leading clear code, as Go before 1.17 wrote it. */
function withoutLeadingClear(stream: Uint8Array): Uint8Array {
  const bits: number[] = [];
  for (const b of stream) for (let i = 0; i < 8; i++) bits.push((b >> i) & 1);
  const rest = bits.slice(9);
  const out = new Uint8Array(Math.ceil(rest.length / 8));
  rest.forEach((bit, i) => {
    out[i >> 3] = (out[i >> 3] as number) | (bit << (i & 7));
  });
  return out;
}

describe('wire lzw: Go compress/lzw, LSB, literal width 8', () => {
  for (const input of goldenLzwInputs) {
    const vector = golden.lzw.find((l) => l.name === input.name)!;
    it(`compress: ${input.name} is byte-identical to Go's compressPayload`, () => {
      assert.equal(hex(compressMessage(input.input())), vector.hex);
    });
    it(`decompress: ${input.name} from Go's bytes`, () => {
      const c = decodeCompress(bytes(vector.hex).subarray(1));
      assert.equal(hex(lzwDecompress(c.buf, 1 << 20)), hex(input.input()));
    });
  }

  it('compress: a compound as memberlist sends it', () => {
    assert.equal(hex(compressMessage(bytes(golden.compound.hex))), golden.compressedCompound);
  });

  it('round-trips any bytes, including long runs that fill and reset the table', () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc
        .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 3000 })), { maxLength: 30 })
        .map((runs) => Uint8Array.from(runs.flatMap(([b, n]) => new Array<number>(n).fill(b)))),
    );
    fc.assert(
      fc.property(data, (input) => {
        assert.equal(hex(lzwDecompress(lzwCompress(input), input.length)), hex(input));
      }),
      { numRuns: 300 },
    );
  });

  it('decompress: a stream without the leading clear code (Go before 1.17) is read', () => {
    const input = goldenLzwInputs.find((l) => l.name === 'text')!.input();
    assert.equal(hex(lzwDecompress(withoutLeadingClear(lzwCompress(input)), 1 << 20)), hex(input));
  });

  it('decompress: no EOF code is truncated, an unknown code malformed, past the limit refused', () => {
    const c = lzwCompress(new Uint8Array(1000).fill(1));
    assert.throws(() => lzwDecompress(c.subarray(0, c.length - 2), 1 << 20), dropped('truncated'));
    // Clear (256), then code 300 while the next free code is 258.
    assert.throws(() => lzwDecompress(Uint8Array.of(0x00, 0x59, 0x02, 0x00), 1 << 20), dropped('malformed'));
    assert.throws(() => lzwDecompress(c, 999), dropped('limit'));
    assert.equal(lzwDecompress(c, 1000).length, 1000);
  });

  it('decompress: a bomb costs no more than its limit (ratio to an honest stream of the same size)', () => {
    const bomb = lzwCompress(new Uint8Array(8 << 20));
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => lzwDecompress(bomb, 1 << 20), dropped('limit'));
    const grew = process.memoryUsage().arrayBuffers - before;
    assert.ok(grew < 8 << 20, `a bomb limited to 1 MiB grew buffers by ${grew} bytes`);
  });
});

describe('wire crc', () => {
  it('adds the same [12][crc32][msg] prefix as Go, and checks it', () => {
    assert.equal(hex(addCrc(bytes(golden.crc.input))), golden.crc.hex);
    assert.equal(hex(removeCrc(bytes(golden.crc.hex))), golden.crc.input);
    const bad = bytes(golden.crc.hex);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    assert.throws(() => removeCrc(bad), dropped('checksum'));
    assert.equal(hex(removeCrc(bytes(golden.crc.input))), golden.crc.input, 'a packet without a CRC passes as it is');
  });
});

describe('wire security: AES-GCM as memberlist', () => {
  const keys = goldenKeys;
  for (const e of golden.encrypted) {
    it(`decrypts Go's ${e.key} version ${e.vsn} packet${e.data ? ' with a label as AAD' : ''}`, () => {
      assert.equal(hex(decryptPayload(bytes(e.hex), [keys[e.key]], bytes(e.data))), golden.plaintext);
      assert.equal(bytes(e.hex).length, encryptedLength(e.vsn as 0 | 1, golden.plaintext.length / 2));
    });
  }

  it('every key of the ring is tried; a wrong key, label or version never lets a message through', () => {
    const e = golden.encrypted.find((x) => x.key === 'k32' && x.vsn === 1 && x.data !== '')!;
    const aad = bytes(e.data);
    assert.equal(hex(decryptPayload(bytes(e.hex), [keys.k16, keys.k24, keys.k32], aad)), golden.plaintext);
    assert.throws(() => decryptPayload(bytes(e.hex), [keys.k16, keys.k24], aad), dropped('decrypt'));
    assert.throws(() => decryptPayload(bytes(e.hex), [keys.k32], new Uint8Array(0)), dropped('decrypt'));
    const flipped = bytes(e.hex);
    flipped[20] = (flipped[20] as number) ^ 0x80;
    assert.throws(() => decryptPayload(flipped, [keys.k32], aad), dropped('decrypt'));
    const v2 = bytes(e.hex);
    v2[0] = 2;
    assert.throws(() => decryptPayload(v2, [keys.k32], aad), dropped('unsupported'));
    assert.throws(() => decryptPayload(bytes(e.hex).subarray(0, 28), [keys.k32], aad), dropped('truncated'));
  });

  it('version 0 pads to the block, version 1 does not; both round-trip', () => {
    for (let n = 0; n < 40; n++) {
      const msg = new Uint8Array(n).fill(n);
      for (const v of [0, 1] as const) {
        const sealed = encryptPayload(msg, keys.k16, new Uint8Array(0), v);
        assert.equal(sealed.length, encryptedLength(v, n));
        assert.equal(sealed[0], v);
        assert.equal(hex(decryptPayload(sealed, [keys.k16], new Uint8Array(0))), hex(msg));
      }
    }
  });

  it("decrypts Go's encrypted stream frame [10][length][payload] with the header as AAD", () => {
    const ring = new Keyring([goldenKeys.k16]);
    const layers: WireLayers = { label: new Uint8Array(0), keyring: ring, compression: false };
    const frame = bytes(golden.encryptedStream.hex);
    assert.equal(streamFrameLength(frame) + 5, frame.length);
    assert.equal(hex(decodeStreamMessage(frame, layers)), golden.plaintext);
  });
});

describe('wire keyring', () => {
  it('the primary key comes first and encrypts; rotation keeps every key readable', () => {
    const ring = new Keyring([goldenKeys.k16, goldenKeys.k24]);
    assert.equal(hex(ring.primary), hex(goldenKeys.k16));
    ring.addKey(goldenKeys.k32);
    ring.useKey(goldenKeys.k32);
    assert.deepEqual(ring.keys.map(hex), [goldenKeys.k32, goldenKeys.k16, goldenKeys.k24].map(hex));
    assert.throws(() => ring.removeKey(goldenKeys.k32), RangeError);
    ring.removeKey(goldenKeys.k16);
    assert.equal(ring.keys.length, 2);
    assert.throws(() => new Keyring([new Uint8Array(20)]), RangeError);
    assert.throws(() => new Keyring([]), RangeError);
  });
});

describe('wire label: the cases of memberlist label_test.go', () => {
  const label = (s: string) => labelBytes(s);
  it('adds [244][len][label] in front, nothing without a label, refuses 256 bytes', () => {
    assert.equal(hex(addLabel(Buffer.from('something'), label('foo'))), `f403${hex(Buffer.from('foosomething'))}`);
    assert.equal(hex(addLabel(Buffer.from('something'), label(''))), hex(Buffer.from('something')));
    assert.equal(addLabel(new Uint8Array(0), label('a'.repeat(255)))[1], 255);
    assert.throws(() => label('a'.repeat(256)), RangeError);
    assert.equal(hex(labelHeader(label('abc'))), 'f403616263');
  });

  it('reads it back; an empty label is refused, a cut header is truncated', () => {
    const blah = hex(Buffer.from('blah'));
    assert.equal(hex(removeLabel(bytes(`f403616263 00${blah}`.replace(' ', '')), label('abc'))), `00${blah}`);
    assert.equal(hex(removeLabel(bytes(`0d${blah}`), label(''))), `0d${blah}`);
    assert.equal(hex(removeLabel(bytes(`01${blah}`), label(''))), `01${blah}`, 'an encryption version byte is not a label');
    assert.throws(() => removeLabel(bytes('f478'), label('')), dropped('truncated'), 'x as the size: cut short');
    assert.throws(() => removeLabel(bytes('f4'), label('')), dropped('truncated'));
    assert.throws(() => removeLabel(bytes('f40078'), label('')), dropped('label'));
    assert.throws(() => removeLabel(bytes('f40278'), label('')), dropped('truncated'));
    assert.throws(() => removeLabel(bytes('f403616263'), label('abd')), dropped('label'));
    assert.throws(() => removeLabel(bytes(`00${blah}`), label('abc')), dropped('label'), 'unlabelled packet where a label is set');
    assert.equal(readLabel(bytes('f403'), false), undefined, 'a stream waits for the rest of its header');
  });
});

describe('wire layers: memberlist order and its reverse', () => {
  const ping = encodePing({ seqNo: 1, node: 'a' });
  const ack = encodeAck({ seqNo: 1, payload: new Uint8Array(0) });
  const compound = encodeCompound([ping, ack, ...Array.from({ length: 20 }, () => ping)]);
  const ring = new Keyring([goldenKeys.k16]);
  const variants: [string, WireLayers, boolean][] = [
    ['plain', { label: new Uint8Array(0), compression: false }, false],
    ['compressed', { label: new Uint8Array(0), compression: true }, false],
    ['crc', { label: new Uint8Array(0), compression: true }, true],
    ['encrypted', { label: new Uint8Array(0), compression: true, keyring: ring }, true],
    ['labelled and encrypted', { label: labelBytes('prod'), compression: true, keyring: ring }, true],
    ['encrypted version 0', { label: labelBytes('prod'), compression: false, keyring: ring, encryptionVersion: 0 }, false],
  ];
  for (const [name, layers, crc] of variants) {
    it(`packet: ${name} round-trips to the messages`, () => {
      const packet = encodePacket(compound, layers, crc);
      if (layers.label.length > 0) assert.equal(packet[0], 244);
      const msg = decodePacket(packet, layers);
      const { messages, truncated } = unpackMessages(msg);
      assert.equal(truncated, 0);
      assert.equal(messages.length, 22);
      assert.equal(hex(messages[1]!), hex(ack));
    });
    it(`stream: ${name} round-trips, framed however the bytes arrive`, () => {
      const pp = encodePushPull(goldenPushPullInputs[1]!);
      const frames = [encodeStreamMessage(pp, layers), encodeStreamMessage(ping, layers)];
      const stream = Buffer.concat([labelHeader(layers.label), ...frames]);
      const head = readLabel(stream, false)!;
      assert.equal(hex(head.label), hex(layers.label));
      const framer = new StreamFramer();
      let start = head.consumed;
      const got: Uint8Array[] = [];
      for (let end = start; end <= stream.length; end += 97) {
        for (
          let e = framer.next(stream, start, Math.min(end, stream.length));
          e >= 0;
          e = framer.next(stream, start, Math.min(end, stream.length))
        ) {
          got.push(decodeStreamMessage(stream.subarray(start, e), layers));
          start = e;
        }
        if (end < stream.length && end + 97 > stream.length) end = stream.length - 97;
      }
      assert.deepEqual(got.map(hex), [pp, ping].map(hex));
    });
  }

  it('packet: a wrong label, plaintext while a key is set, or a wrong key is dropped', () => {
    const enc: WireLayers = { label: labelBytes('prod'), compression: true, keyring: ring };
    const packet = encodePacket(compound, enc, false);
    assert.throws(() => decodePacket(packet, { ...enc, label: labelBytes('test') }), dropped('label'));
    assert.throws(() => decodePacket(packet, { ...enc, keyring: new Keyring([goldenKeys.k32]) }), dropped('decrypt'));
    const plain = encodePacket(compound, { label: labelBytes('prod'), compression: true }, false);
    assert.throws(() => decodePacket(plain, enc), dropped('decrypt'));
    assert.ok(decodePacket(plain, { ...enc, verifyIncoming: false }).length > 0, 'verifyIncoming off reads plaintext');
  });

  it('stream: plaintext while a key is set, and ciphertext without one, are dropped', () => {
    const plainLayers: WireLayers = { label: new Uint8Array(0), compression: false };
    const encLayers: WireLayers = { ...plainLayers, keyring: ring };
    assert.throws(() => decodeStreamMessage(encodeStreamMessage(ping, plainLayers), encLayers), dropped('decrypt'));
    assert.throws(() => decodeStreamMessage(encodeStreamMessage(ping, encLayers), plainLayers), dropped('decrypt'));
  });

  it('unpack: nesting is bounded, compound truncation is counted', () => {
    let nested: Uint8Array = ping;
    for (let i = 0; i < 6; i++) nested = compressMessage(encodeCompound([nested]));
    assert.throws(() => unpackMessages(nested), dropped('limit'));
    const cut = compound.subarray(0, compound.length - 3);
    assert.equal(unpackMessages(cut).truncated, 1);
  });

  it('framer: an encrypted frame claiming over 20 MiB, or a type that never travels on streams, is refused', () => {
    assert.throws(() => new StreamFramer().next(bytes('0a01400001'), 0, 5), dropped('limit'));
    assert.throws(() => new StreamFramer().next(bytes('07'), 0, 1), dropped('unsupported'));
    // A push/pull that claims 100 user-state bytes over a 64-byte cap stops before they arrive.
    const framer = new StreamFramer(64);
    const header = bytes('0683a44a6f696ec2a54e6f646573 00ac5573657253746174654c656e64'.replace(' ', ''));
    assert.throws(() => framer.next(header, 0, header.length), dropped('limit'));
  });
});
