/**
 * The serf profile's bookkeeping (registry/serf-profile.ts) by serf's rules: Lamport clocks that
 * witness what they see, a leave intent above the join, intents passed on only when newer, a stale
 * leave for our own name refuted, push/pull states read and written in serf's format.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeSerfMessage,
  encodeSerfJoin,
  encodeSerfLeave,
  encodeSerfPushPull,
  encodeSerfUserEvent,
  type SerfMessage,
} from '../../src/adapters/gossip/registry/serf-events.js';
import { SERF_EVENT_NAME, SerfProfile } from '../../src/adapters/gossip/registry/serf-profile.js';

const decode = <T extends SerfMessage['type']>(bytes: Uint8Array, type: T) => {
  const m = decodeSerfMessage(bytes);
  assert.equal(m.type, type);
  return m as Extract<SerfMessage, { type: T }>;
};

const update = Uint8Array.of(0x08, 0x01, 0x10, 0x01);

describe('serf profile', () => {
  it('leave intent: its Lamport time is above our join and above every status time witnessed', () => {
    const p = new SerfProfile('me');
    const join = decode(p.joinIntent(), 'join').intent;
    assert.equal(p.receive(encodeSerfJoin({ ltime: 41n, node: 'other' })).kind, 'intent');
    const leave = decode(p.leaveIntent(), 'leave').intent;
    assert.equal(leave.node, 'me');
    assert.ok(leave.ltime > join.ltime, `${leave.ltime} > ${join.ltime}`);
    assert.ok(leave.ltime > 41n, `${leave.ltime} above the witnessed 41`);
    assert.equal(leave.prune, false);
  });

  it('wrap: a user event of our name at a fresh event time, above the times seen', () => {
    const p = new SerfProfile('me');
    p.receive(encodeSerfUserEvent({ ltime: 500n, name: 'deploy', payload: Uint8Array.of(1), cc: true }));
    const first = decode(p.wrap(update, 'k1', false), 'userEvent').event;
    const second = decode(p.wrap(update, 'k1', false), 'userEvent').event;
    assert.equal(first.name, SERF_EVENT_NAME);
    assert.deepEqual(first.payload, update);
    assert.ok(first.ltime > 500n && second.ltime > first.ltime, `${first.ltime}, ${second.ltime}`);
    assert.ok(SerfProfile.fitsEvent(p.wrap(new Uint8Array(400), 'k2', false)));
    assert.ok(!SerfProfile.fitsEvent(p.wrap(new Uint8Array(500), 'k3', false)), '512 bytes is serf’s limit with the header');
  });

  it('receive: our updates come out with the event to relay; other events and queries do not', () => {
    const p = new SerfProfile('me');
    const event = encodeSerfUserEvent({ ltime: 3n, name: SERF_EVENT_NAME, payload: update, cc: false });
    assert.deepEqual(p.receive(event), { kind: 'update', update, relay: event });
    assert.deepEqual(p.receive(encodeSerfUserEvent({ ltime: 4n, name: 'deploy', payload: update, cc: false })), { kind: 'none' });
    assert.deepEqual(p.receive(Uint8Array.of(4, 0x80)), { kind: 'none' });
  });

  it('intents: only a newer status time is passed on; a stale leave for our name is refuted', () => {
    const p = new SerfProfile('me');
    const join = encodeSerfJoin({ ltime: 5n, node: 'x' });
    assert.deepEqual(p.receive(join), { kind: 'intent', node: 'x', relay: join });
    assert.deepEqual(p.receive(join), { kind: 'none' }, 'the same intent again');
    assert.deepEqual(p.receive(encodeSerfLeave({ ltime: 4n, node: 'x' })), { kind: 'none' }, 'an older leave');
    const leave = encodeSerfLeave({ ltime: 6n, node: 'x' });
    assert.equal(p.receive(leave).kind, 'intent');
    assert.ok(p.isLeaving('x'));
    p.joinIntent();
    assert.deepEqual(p.receive(encodeSerfLeave({ ltime: 90n, node: 'me' })), { kind: 'refute' });
    assert.ok(decode(p.joinIntent(), 'join').intent.ltime > 90n, 'the refuting join is newer');
    assert.ok(!p.isLeaving('me'));
    // A flood of names evicts the oldest intents, never our own.
    for (let i = 0; i < 5000; i++) p.receive(encodeSerfJoin({ ltime: 100n + BigInt(i), node: `n${i}` }));
    const status = decode(
      p.localState(
        () => false,
        () => true,
      ),
      'pushPull',
    ).state.statusLTimes;
    assert.ok(status.has('me') && !status.has('x') && status.has('n4999'), `${status.size} status times`);
    assert.ok(status.size <= 4097);
  });

  it('push/pull: serf’s state is merged (clocks, left members, our events) and ours is serf’s format', () => {
    const p = new SerfProfile('me');
    const state = encodeSerfPushPull({
      ltime: 20n,
      statusLTimes: new Map([
        ['alive-one', 7n],
        ['gone-one', 9n],
      ]),
      leftMembers: ['gone-one'],
      eventLTime: 300n,
      events: [
        {
          ltime: 299n,
          events: [
            { name: SERF_EVENT_NAME, payload: update },
            { name: 'deploy', payload: Uint8Array.of(9) },
          ],
        },
      ],
      queryLTime: 12n,
    });
    const merged = p.mergeState(state);
    assert.deepEqual(merged.left, ['gone-one']);
    assert.equal(merged.updates.length, 1);
    assert.deepEqual(merged.updates[0]?.update, update);
    assert.deepEqual(decode(merged.updates[0]?.relay as Uint8Array, 'userEvent').event, {
      ltime: 299n,
      name: SERF_EVENT_NAME,
      payload: update,
      cc: false,
    });
    assert.ok(p.isLeaving('gone-one'));

    p.joinIntent();
    const wrapped = decode(p.wrap(update, 'node-1', false), 'userEvent').event;
    assert.ok(wrapped.ltime >= 299n, 'the event clock witnessed the state');
    p.wrap(update, 'node-2', true); // a delete is not carried in the state
    p.wrap(update, 'node-3', false); // nor a node no longer registered (stopped without a delete)
    p.wrap(new Uint8Array(600), 'node-4', false); // nor one too large for a serf event
    const ours = decode(
      p.localState(
        (n) => n === 'gone-one',
        (key) => key !== 'node-3',
      ),
      'pushPull',
    ).state;
    assert.deepEqual(ours.leftMembers, ['gone-one']);
    assert.equal(ours.statusLTimes.get('alive-one'), 7n);
    assert.ok((ours.statusLTimes.get('me') ?? 0n) >= 19n, 'our join is stamped after witnessing 20 - 1');
    assert.ok(ours.eventLTime > wrapped.ltime);
    assert.ok(ours.queryLTime >= 11n);
    assert.deepEqual(ours.events, [{ ltime: wrapped.ltime, events: [{ name: SERF_EVENT_NAME, payload: update }] }]);
  });
});
