/**
 * Every wire decoder under hostile input: random bytes, and Go's own golden messages with bytes
 * flipped, cut or spliced. A decoder returns a value or throws a {@link WireError}; nothing else
 * escapes, and a small input never costs memory out of proportion to its size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeCompound } from '../../src/adapters/gossip/wire/compound.js';
import { isWireError } from '../../src/adapters/gossip/wire/errors.js';
import { StreamFramer } from '../../src/adapters/gossip/wire/frame.js';
import { Keyring } from '../../src/adapters/gossip/wire/keyring.js';
import { labelBytes, readLabel } from '../../src/adapters/gossip/wire/label.js';
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
import {
  decodeAck,
  decodeAlive,
  decodeCompress,
  decodeDead,
  decodeErr,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodePushPull,
  decodeSuspect,
  decodeUserStream,
} from '../../src/adapters/gossip/wire/messages.js';
import { decryptPayload } from '../../src/adapters/gossip/wire/security.js';
import { goldenKeys } from './fixtures/golden-inputs.js';
import { golden } from './wire-golden.js';

export const messageDecoders: Record<string, (body: Uint8Array) => unknown> = {
  ping: decodePing,
  indirectPing: decodeIndirectPing,
  ack: decodeAck,
  nack: decodeNack,
  suspect: decodeSuspect,
  alive: decodeAlive,
  dead: decodeDead,
  pushPull: decodePushPull,
  userStream: decodeUserStream,
  compress: decodeCompress,
  err: decodeErr,
  compound: decodeCompound,
};

/** Runs `decode`; true when it returned, false when it threw a WireError, and fails on anything else. */
export function decodesOrDrops(decode: (b: Uint8Array) => unknown, input: Uint8Array): boolean {
  try {
    decode(input);
    return true;
  } catch (err) {
    if (isWireError(err)) return false;
    throw new Error(`${String(err)} for input ${Buffer.from(input).toString('hex').slice(0, 200)}`, { cause: err });
  }
}

/** Go's golden bodies (after the type byte), the seeds the mutations start from. */
export const goldenBodies: Uint8Array[] = [
  ...golden.messages.map((m) => m.hex),
  ...golden.pushPull.map((p) => p.hex),
  golden.userStream.hex,
  golden.compound.hex,
].map((h) => new Uint8Array(Buffer.from(h, 'hex')).subarray(1));

/** A golden body with some bytes replaced, a cut, or a splice of two bodies. */
export const mutatedBody: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(...goldenBodies),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.option(fc.nat()),
    fc.option(fc.tuple(fc.constantFrom(...goldenBodies), fc.nat())),
  )
  .map(([seed, flips, cut, splice]) => {
    let b = seed.slice();
    for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
    if (cut !== null && b.length > 0) b = b.subarray(0, cut % b.length);
    if (splice !== null) {
      const [other, at] = splice;
      b = Uint8Array.of(...b.subarray(0, at % (b.length + 1)), ...other.subarray(at % (other.length + 1)));
    }
    return b;
  });

describe('wire fuzz: message and compound decoders', () => {
  for (const [name, decode] of Object.entries(messageDecoders)) {
    it(`${name}: random bytes decode or drop with a WireError`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
          decodesOrDrops(decode, input);
        }),
        { numRuns: 2000 },
      );
    });

    it(`${name}: mutated Go messages decode or drop with a WireError`, () => {
      fc.assert(
        fc.property(mutatedBody, (input) => {
          decodesOrDrops(decode, input);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('push/pull: headers claiming the limits cost no more memory than honest ones of the same size', () => {
    // Each hostile body is a few dozen bytes claiming 1M nodes and 20 MiB of user state.
    const hostile = new Uint8Array(Buffer.from('83a44a6f696ec2a54e6f646573ce00100000ac5573657253746174654c656ece01400000', 'hex'));
    const honest = new Uint8Array(Buffer.from(golden.pushPull.find((p) => p.name === 'empty')!.hex, 'hex')).subarray(1);
    const grow = (input: Uint8Array) => {
      globalThis.gc?.();
      const before = process.memoryUsage();
      let ok = 0;
      for (let i = 0; i < 20_000; i++) if (decodesOrDrops(decodePushPull, input)) ok++;
      const after = process.memoryUsage();
      return { ok, bytes: Math.max(0, after.heapUsed - before.heapUsed) + Math.max(0, after.arrayBuffers - before.arrayBuffers) };
    };
    const base = grow(honest);
    const attack = grow(hostile);
    assert.equal(base.ok, 20_000);
    assert.equal(attack.ok, 0);
    // 20,000 claims of 20 MiB each would be 400 GB if believed; allow noise up to 64 MiB over the baseline.
    assert.ok(
      attack.bytes < base.bytes + 64 * 1024 * 1024,
      `hostile headers grew memory by ${attack.bytes} bytes (baseline ${base.bytes})`,
    );
  });
});

const ring = new Keyring([goldenKeys.k16, goldenKeys.k32]);
const layerVariants: WireLayers[] = [
  { label: new Uint8Array(0), compression: true },
  { label: labelBytes('prod'), compression: true, keyring: ring },
];
/** Well-formed packets and stream messages of every layer combination, the seeds for mutation. */
const layeredSeeds: Uint8Array[] = layerVariants.flatMap((l) => [
  ...goldenBodies.slice(0, 6).map((b) => encodePacket(Uint8Array.of(0, ...b), l, true)),
  encodePacket(new Uint8Array(Buffer.from(golden.compound.hex, 'hex')), l, false),
  encodeStreamMessage(new Uint8Array(Buffer.from(golden.pushPull[0]!.hex, 'hex')), l),
]);
const lzwSeeds = [lzwCompress(new Uint8Array(Buffer.from(golden.compound.hex, 'hex'))), lzwCompress(new Uint8Array(3000).fill(5))];

const mutate = (seeds: Uint8Array[]) =>
  fc
    .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat()))
    .map(([seed, flips, cut]) => {
      let b = seed.slice();
      for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
      if (cut !== null && b.length > 0) b = b.subarray(0, cut % b.length);
      return b;
    });

describe('wire fuzz: layers, LZW, labels, encryption, framing', () => {
  const decoders: Record<string, [(b: Uint8Array) => unknown, fc.Arbitrary<Uint8Array>]> = {
    lzw: [(b) => lzwDecompress(b, 1 << 20), fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate(lzwSeeds))],
    'packet (plain)': [
      (b) => unpackMessages(decodePacket(b, layerVariants[0]!)),
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate(layeredSeeds)),
    ],
    'packet (label + key)': [
      (b) => unpackMessages(decodePacket(b, layerVariants[1]!)),
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate(layeredSeeds)),
    ],
    'stream message (plain)': [
      (b) => decodeStreamMessage(b, layerVariants[0]!),
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate(layeredSeeds)),
    ],
    'stream message (key)': [
      (b) => decodeStreamMessage(b, layerVariants[1]!),
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate(layeredSeeds)),
    ],
    unpack: [
      unpackMessages,
      fc.oneof(fc.uint8Array({ maxLength: 400 }), mutate([compressMessage(new Uint8Array(Buffer.from(golden.compound.hex, 'hex')))])),
    ],
    label: [(b) => readLabel(b, true), fc.uint8Array({ maxLength: 20 })],
    decrypt: [(b) => decryptPayload(b, ring.keys, new Uint8Array(0)), fc.oneof(fc.uint8Array({ maxLength: 100 }), mutate(layeredSeeds))],
    framer: [
      (b) => {
        const f = new StreamFramer(1 << 16);
        let start = 0;
        for (let e = f.next(b, start, b.length); e >= 0 && e < b.length; e = f.next(b, start, b.length)) start = e;
      },
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        mutate(layeredSeeds),
        mutatedBody.map((b) => Uint8Array.of(6, ...b)),
      ),
    ],
  };
  for (const [name, [decode, input]] of Object.entries(decoders)) {
    it(`${name}: hostile bytes decode or drop with a WireError`, () => {
      fc.assert(
        fc.property(input, (b) => {
          decodesOrDrops(decode, b);
        }),
        { numRuns: 1500 },
      );
    });
  }
});
