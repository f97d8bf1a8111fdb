/**
 * Serf's user messages (registry/serf-events.ts) against bytes serf itself wrote: the join and
 * leave intents and the join push/pull state in fixtures/serf-capture.json (two serf 0.9.4 agents),
 * then user events and push/pull states written from serf/messages.go's structs, and hostile input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeSerfMessage,
  decodeSerfTags,
  encodeSerfJoin,
  encodeSerfLeave,
  encodeSerfPushPull,
  encodeSerfTags,
  encodeSerfUserEvent,
  type SerfMessage,
  SerfMessageType,
} from '../../src/adapters/gossip/registry/serf-events.js';
import { isWireError } from '../../src/adapters/gossip/wire/errors.js';
import { decodePacket, decodeStreamMessage, unpackMessages, type WireLayers } from '../../src/adapters/gossip/wire/layers.js';
import { decodePushPull, MessageType } from '../../src/adapters/gossip/wire/messages.js';
import { bytes, hex } from './wire-golden.js';

const capture = (
  JSON.parse(readFileSync(new URL('./fixtures/serf-capture.json', import.meta.url), 'utf8')) as {
    plain: { udp: { hex: string }[]; tcp: { hex: string }[] };
  }
).plain;
const plain: WireLayers = { label: new Uint8Array(0), compression: true, keyring: undefined };

/** Every distinct serf user message in the capture's datagrams. */
function capturedUserMessages(): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const d of capture.udp) {
    for (const m of unpackMessages(decodePacket(bytes(d.hex), plain)).messages) {
      if (m[0] === MessageType.user) seen.set(hex(m), m.subarray(1));
    }
  }
  return [...seen.values()];
}

describe('serf events', () => {
  it('capture: serf-b join and leave intents decode and re-encode to serf bytes', () => {
    const decoded = capturedUserMessages().map((m) => [m, decodeSerfMessage(m)] as const);
    const intent = (m: SerfMessage) => (m.type === 'join' || m.type === 'leave' ? m.intent : assert.fail(`not an intent: ${m.type}`));
    const join = decoded.find(([, d]) => d.type === 'join');
    const leave = decoded.find(([, d]) => d.type === 'leave');
    assert.ok(join && leave, `intents in the capture: ${decoded.map(([, d]) => d.type)}`);
    assert.deepEqual(join[1], { type: 'join', intent: { ltime: 1n, node: 'serf-b' } });
    assert.deepEqual(leave[1], { type: 'leave', intent: { ltime: 2n, node: 'serf-b', prune: false } });
    // The leave's Lamport time is above the join's: that is what makes serf count it.
    assert.equal(hex(encodeSerfJoin(intent(join[1]))), hex(join[0]));
    assert.equal(hex(encodeSerfLeave(intent(leave[1]))), hex(leave[0]));
  });

  it('capture: both join push/pull states decode, with serf’s 512-slot event ring of nils skipped', () => {
    assert.equal(capture.tcp.length, 2);
    const names: string[] = [];
    for (const flow of capture.tcp) {
      const user = decodePushPull(decodeStreamMessage(bytes(flow.hex), plain).subarray(1)).userState;
      assert.equal(user[0], SerfMessageType.pushPull);
      const d = decodeSerfMessage(user);
      assert.equal(d.type, 'pushPull');
      if (d.type !== 'pushPull') continue;
      assert.equal(d.state.ltime, 1n);
      assert.equal(d.state.eventLTime, 1n);
      assert.equal(d.state.queryLTime, 1n);
      assert.deepEqual(d.state.leftMembers, []);
      assert.deepEqual(d.state.events, []);
      assert.equal(d.state.statusLTimes.size, 1);
      names.push(...d.state.statusLTimes.keys());
      // Our encoding of the same state differs only in the ring: serf's 512 nils (dc 02 00 c0…) vs our empty array (90).
      const ring = `dc0200${'c0'.repeat(512)}`;
      assert.ok(hex(user).includes(ring));
      assert.equal(hex(encodeSerfPushPull(d.state)), hex(user).replace(ring, '90'));
    }
    assert.deepEqual(names.sort(), ['serf-a', 'serf-b']);
  });

  it('user event: the bytes of serf’s messageUserEvent, fields sorted as go-msgpack writes them', () => {
    const event = { ltime: 300n, name: 'rollcall', payload: Uint8Array.of(0x08, 0x01), cc: false };
    const expected = [
      '03', // messageUserEventType
      '84', // a map of four fields
      'a2 4343 c2', // "CC": false
      'a5 4c54696d65 cd012c', // "LTime": uint16 300
      'a4 4e616d65 a8 726f6c6c63616c6c', // "Name": "rollcall"
      'a7 5061796c6f6164 a2 0801', // "Payload": raw of 2 bytes
    ].join('');
    const encoded = encodeSerfUserEvent(event);
    assert.equal(hex(encoded), expected.replaceAll(' ', ''));
    assert.deepEqual(decodeSerfMessage(encoded), { type: 'userEvent', event });
    // An empty payload is a nil slice in Go.
    assert.equal(hex(encodeSerfUserEvent({ ...event, payload: new Uint8Array(0) })).slice(-2), 'c0');
  });

  it('push/pull: events and status times round trip; a Lamport time past 2^53 stays exact', () => {
    const big = 2n ** 63n + 5n;
    const state = {
      ltime: big,
      statusLTimes: new Map([
        ['b', 7n],
        ['a', 9n],
      ]),
      leftMembers: ['gone'],
      eventLTime: 41n,
      events: [{ ltime: 40n, events: [{ name: 'rollcall', payload: Uint8Array.of(1, 2, 3) }] }],
      queryLTime: 3n,
    };
    const encoded = encodeSerfPushPull(state);
    assert.ok(hex(encoded).includes(`a54c54696d65cf${big.toString(16)}`), 'LTime as uint64');
    const d = decodeSerfMessage(encoded) as Extract<SerfMessage, { type: 'pushPull' }>;
    assert.equal(d.type, 'pushPull');
    assert.deepEqual(d.state, state);
    assert.deepEqual([...d.state.statusLTimes.keys()], ['a', 'b'], 'written sorted by name');
  });

  it('other serf messages (queries, key management) are named, not decoded', () => {
    for (const code of [SerfMessageType.query, SerfMessageType.keyResponse, SerfMessageType.relay, 200]) {
      assert.deepEqual(decodeSerfMessage(Uint8Array.of(code, 0x80)), { type: 'other', code });
    }
  });

  it('hostile input: empty, cut or mistyped bytes fail as WireError', () => {
    const good = encodeSerfUserEvent({ ltime: 1n, name: 'x', payload: Uint8Array.of(1), cc: true });
    for (const bad of [
      new Uint8Array(0),
      good.subarray(0, good.length - 1),
      Uint8Array.of(SerfMessageType.join, 0x81, 0xa5, ...Buffer.from('LTime'), 0xa1, 0x78),
    ]) {
      assert.throws(() => decodeSerfMessage(bad), isWireError);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 3 }), (tail, type) => {
        try {
          decodeSerfMessage(Uint8Array.of(type, ...tail));
        } catch (error) {
          assert.ok(isWireError(error), String(error));
        }
      }),
    );
  });

  it('tags: 0xff + sorted map; a bare role from serf protocol 2; garbage reads as none', () => {
    const meta = encodeSerfTags({ role: 'api', ['__proto__']: 'x', a: 'é' });
    assert.equal(meta[0], 0xff);
    const tags = decodeSerfTags(meta);
    assert.deepEqual(Object.keys(tags), ['__proto__', 'a', 'role']);
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
    assert.equal(tags.a, 'é');
    assert.deepEqual(decodeSerfTags(new TextEncoder().encode('web')), { role: 'web' });
    assert.deepEqual(decodeSerfTags(Uint8Array.of(0xff, 0x81)), {});
    assert.deepEqual(decodeSerfTags(new Uint8Array(0)), {});
  });
});
