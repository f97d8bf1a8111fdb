/**
 * Real serf traffic (fixtures/serf-capture.json: two serf 0.9.4 agents joining and leaving on
 * loopback, captured with tcpdump, plaintext and encrypted) through rollcall's layers and
 * decoders: every datagram and the join push/pull in both directions decode, the values are
 * serf's (its tags Meta, its delegate versions), and re-encoding a decoded message gives serf's
 * bytes back, so the encoder matches the Go encoder serf runs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { StreamFramer } from '../../src/adapters/gossip/wire/frame.js';
import { Keyring } from '../../src/adapters/gossip/wire/keyring.js';
import { decodePacket, decodeStreamMessage, unpackMessages, type WireLayers } from '../../src/adapters/gossip/wire/layers.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeIndirectPing,
  decodePing,
  decodePushPull,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeIndirectPing,
  encodePing,
  encodePushPull,
  encodeSuspect,
  MessageType,
} from '../../src/adapters/gossip/wire/messages.js';
import { bytes, hex } from './wire-golden.js';

interface Capture {
  encrypted: boolean;
  key?: string;
  members: unknown;
  udp: { from: string; hex: string }[];
  tcp: { from: string; to: string; hex: string }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/serf-capture.json', import.meta.url), 'utf8')) as {
  plain: Capture;
  encrypted: Capture;
};

/** Decoder and encoder per type, for the round trip. */
const codecs: Record<number, [(b: Uint8Array) => never, (m: never) => Uint8Array]> = {
  [MessageType.ping]: [decodePing as never, encodePing as never],
  [MessageType.indirectPing]: [decodeIndirectPing as never, encodeIndirectPing as never],
  [MessageType.ack]: [decodeAck as never, encodeAck as never],
  [MessageType.suspect]: [decodeSuspect as never, encodeSuspect as never],
  [MessageType.alive]: [decodeAlive as never, encodeAlive as never],
  [MessageType.dead]: [decodeDead as never, encodeDead as never],
};

function layersOf(c: Capture): WireLayers {
  return {
    label: new Uint8Array(0),
    compression: true,
    keyring: c.key ? new Keyring([new Uint8Array(Buffer.from(c.key, 'base64'))]) : undefined,
  };
}

for (const [name, capture] of [
  ['plain', fixture.plain],
  ['encrypted', fixture.encrypted],
] as const) {
  describe(`wire vs real serf traffic (${name})`, () => {
    const layers = layersOf(capture);

    it('every datagram decodes; known messages re-encode to serf bytes', () => {
      const seen = new Map<number, number>();
      let aliveFromSerf = 0;
      for (const d of capture.udp) {
        const { messages, truncated } = unpackMessages(decodePacket(bytes(d.hex), layers));
        assert.equal(truncated, 0);
        for (const m of messages) {
          const type = m[0] as number;
          seen.set(type, (seen.get(type) ?? 0) + 1);
          const codec = codecs[type];
          if (!codec) continue;
          const value = codec[0](m.subarray(1));
          assert.equal(hex(codec[1](value)), hex(m), `type ${type} re-encodes to serf's bytes`);
          if (type === MessageType.alive) {
            const a = decodeAlive(m.subarray(1));
            assert.equal(a.meta[0], 0xff, 'serf tags Meta starts with 0xff');
            assert.deepEqual([...a.vsn], [1, 5, 2, 2, 5, 5], 'serf 0.9.4 speaks delegate protocol 5');
            aliveFromSerf++;
          }
        }
      }
      assert.ok((seen.get(MessageType.ping) ?? 0) > 0 && (seen.get(MessageType.ack) ?? 0) > 0, `pings and acks seen: ${[...seen]}`);
      assert.ok((seen.get(MessageType.user) ?? 0) > 0, 'serf user messages (join/leave intents) seen');
      assert.ok(aliveFromSerf + (seen.get(MessageType.dead) ?? 0) > 0, 'membership broadcasts seen');
    });

    it('the join push/pull in both directions frames, decodes and re-encodes to serf bytes', () => {
      assert.equal(capture.tcp.length, 2);
      for (const flow of capture.tcp) {
        const stream = bytes(flow.hex);
        const framer = new StreamFramer();
        const end = framer.next(stream, 0, stream.length);
        assert.equal(end, stream.length, 'one message fills the stream');
        const msg = decodeStreamMessage(stream, layers);
        assert.equal(msg[0], MessageType.pushPull);
        const pp = decodePushPull(msg.subarray(1));
        assert.ok(pp.nodes.length >= 1);
        for (const n of pp.nodes) {
          assert.match(n.name, /^serf-[ab]$/);
          assert.deepEqual([...n.vsn], [1, 5, 2, 2, 5, 5]);
          assert.equal(n.meta[0], 0xff);
        }
        assert.ok(pp.userState.length > 0, 'serf sends its user state (Lamport clocks, intents)');
        assert.equal(hex(encodePushPull(pp)), hex(msg), 're-encoded push/pull is byte-identical');
      }
    });

    if (capture.encrypted) {
      it('a wrong key learns nothing from the capture', () => {
        const wrong: WireLayers = { ...layers, keyring: new Keyring([new Uint8Array(32).fill(9)]) };
        for (const d of capture.udp) assert.throws(() => decodePacket(bytes(d.hex), wrong), /no installed key|decrypt/);
        for (const flow of capture.tcp) assert.throws(() => decodeStreamMessage(bytes(flow.hex), wrong), /no installed key/);
      });
    }
  });
}
