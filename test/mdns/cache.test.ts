/** cache.ts under a fake clock: TTL expiry, the goodbye and cache-flush second, refresh points, the cap. */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { type CachedRecord, RecordCache } from '../../src/adapters/mdns/cache.js';
import type { Rr } from '../../src/adapters/mdns/packet.js';

function setup(maxRecords = 100, wanted: (fname: string) => boolean = () => false) {
  let clock = 0;
  const expired: string[] = [];
  const refreshed: Array<[string, number]> = [];
  mock.timers.enable({ apis: ['setTimeout'] });
  const cache = new RecordCache({
    maxRecords,
    now: () => clock,
    events: {
      expired: (fname, type) => expired.push(`${fname}/${type}`),
      refresh: (r: CachedRecord) => refreshed.push([r.fname, clock]),
      wanted,
    },
  });
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i += 10) {
      clock += 10;
      mock.timers.tick(10);
    }
  };
  return { cache, expired, refreshed, advance, now: () => clock };
}

const txt = (data: string, ttl = 10, flush = true): Rr => ({
  name: 'Node._x._tcp.local',
  type: 'TXT',
  ttl,
  flush,
  data: [Buffer.from(data)],
});

describe('record cache', () => {
  it('ttl: a record expires when its TTL runs out, after four refresh requests at 80-97 %', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, expired, refreshed, advance } = setup();
    assert.equal(cache.add(txt('a=1'), 'eth0'), 'new');
    advance(7_900);
    assert.equal(refreshed.length, 0);
    advance(2_000);
    assert.equal(refreshed.length, 4);
    for (const [i, [, at]] of refreshed.entries())
      assert.ok(at >= [8000, 8500, 9000, 9500][i]! && at <= [8200, 8700, 9200, 9700][i]! + 10, String(at));
    assert.deepEqual(expired, []);
    advance(200);
    assert.deepEqual(expired, ['node._x._tcp.local/TXT']);
    assert.equal(cache.size, 0);
  });

  it('renewal: hearing the record again restarts its TTL', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, expired, advance } = setup();
    cache.add(txt('a=1'), 'eth0');
    advance(9_000);
    assert.equal(cache.add(txt('a=1'), 'eth0'), 'renewed');
    advance(9_000);
    assert.deepEqual(expired, []);
    advance(1_100);
    assert.equal(expired.length, 1);
  });

  it('goodbye: TTL 0 keeps the record one more second (RFC 6762 §10.1), then it goes', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, expired, advance } = setup();
    cache.add(txt('a=1', 4500), 'eth0');
    assert.equal(cache.add(txt('a=1', 0), 'eth0'), 'goodbye');
    assert.equal(cache.newest('node._x._tcp.local', 'TXT')?.goodbye, true);
    advance(990);
    assert.deepEqual(expired, []);
    advance(30);
    assert.deepEqual(expired, ['node._x._tcp.local/TXT']);
    assert.equal(cache.add(txt('a=1', 0), 'eth0'), 'ignored', 'a goodbye for a record we never had is ignored');
  });

  it('goodbye then hello: the record comes back and is believed again', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, expired, advance } = setup();
    cache.add(txt('a=1', 100), 'eth0');
    cache.add(txt('a=1', 0), 'eth0');
    advance(500);
    assert.equal(cache.add(txt('a=1', 100), 'eth0'), 'revived');
    advance(2_000);
    assert.deepEqual(expired, []);
  });

  it('cache flush: a unique record ends its older siblings one second later; younger ones stay (§10.2)', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, advance } = setup();
    cache.add(txt('old=1', 100), 'eth0');
    advance(1_500);
    cache.add(txt('young=1', 100, false), 'eth0');
    cache.add(txt('new=1', 100), 'eth0');
    assert.equal(cache.newest('node._x._tcp.local', 'TXT')?.rr.data.toString(), 'new=1');
    advance(1_100);
    const left = cache.get('node._x._tcp.local', 'TXT').map((r) => String(r.rr.data));
    assert.deepEqual(left.sort(), ['new=1', 'young=1']);
  });

  it('known answers: only records with more than half their TTL left, with the TTL they have left', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, advance } = setup();
    cache.add({ name: '_x._tcp.local', type: 'PTR', ttl: 100, flush: false, data: 'a._x._tcp.local' }, 'eth0');
    advance(40_000);
    const known = cache.knownAnswers('_x._tcp.local', 'PTR', () => true);
    assert.equal(known.length, 1);
    assert.equal(known[0]?.ttl, 60);
    advance(11_000);
    assert.equal(cache.knownAnswers('_x._tcp.local', 'PTR', () => true).length, 0);
  });

  it('cap: past maxRecords new records are refused, known ones still renew', (t) => {
    t.after(() => mock.timers.reset());
    const { cache } = setup(100);
    for (let i = 0; i < 100; i++) assert.equal(cache.add(txt(`k=${i}`), 'eth0', undefined, i % 2 ? 'x' : 'y'), 'new');
    assert.equal(cache.add(txt('k=100'), 'eth0', undefined, 'z'), 'full');
    assert.equal(cache.add(txt('k=5'), 'eth0', undefined, 'x'), 'renewed');
    assert.equal(cache.size, 100);
    assert.equal(cache.refused, 1);
  });

  it('flood: one source holds at most half the cache; the others still get in', (t) => {
    t.after(() => mock.timers.reset());
    const { cache } = setup(100);
    const flood = Array.from({ length: 80 }, (_, i) => cache.add(txt(`fake=${i}`), 'eth0', undefined, '169.254.0.66'));
    assert.equal(flood.filter((r) => r === 'new').length, 50);
    assert.equal(cache.refused, 30);
    for (let i = 0; i < 50; i++) assert.equal(cache.add(txt(`real=${i}`), 'eth0', undefined, `169.254.0.${i}`), 'new', `real ${i}`);
  });

  it('flood: once full, a record someone wants takes the place of the oldest nobody wants; the rest is refused', (t) => {
    t.after(() => mock.timers.reset());
    const wantedNames = new Set<string>();
    const { cache, expired } = setup(100, (fname) => wantedNames.has(fname));
    const rr = (name: string, data: string): Rr => ({ name, type: 'TXT', ttl: 60, flush: true, data: [Buffer.from(data)] });
    for (let i = 0; i < 100; i++) assert.equal(cache.add(rr(`fake-${i}.local`, 'x=1'), 'eth0', undefined, `169.254.1.${i}`), 'new');
    assert.equal(cache.add(rr('stranger.local', 'x=1'), 'eth0', undefined, '169.254.2.1'), 'full', 'nobody asked for it');
    wantedNames.add('real.local');
    // The oldest record is wanted too: it stays, and the next oldest goes.
    wantedNames.add('fake-0.local');
    assert.equal(cache.add(rr('real.local', 'x=1'), 'eth0', undefined, '169.254.2.1'), 'new', 'asked for: room is made');
    assert.equal(cache.size, 100);
    assert.equal(cache.evicted, 1);
    assert.deepEqual(expired, ['fake-1.local/TXT']);
    assert.equal(cache.get('fake-0.local', 'TXT').length, 1);
    assert.equal(cache.get('real.local', 'TXT').length, 1);
    assert.equal(cache.refused, 1);
  });
  it('storage: a lone record and a second datum of its name and type both live, and each expires on its own', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, expired, advance } = setup();
    const a = (ip: string, ttl: number): Rr => ({ name: 'host.local', type: 'A', ttl, flush: false, data: ip });
    assert.equal(cache.add(a('10.0.0.1', 2), 'eth0'), 'new');
    assert.equal(cache.add(a('10.0.0.1', 2), 'eth0'), 'renewed', 'the lone record is found again by its data');
    assert.equal(cache.add(a('10.0.0.2', 5), 'eth0'), 'new', 'other data of the same name and type is a second record');
    assert.equal(cache.size, 2);
    assert.deepEqual(
      cache
        .get('host.local', 'A')
        .map((r) => r.rr.data)
        .sort(),
      ['10.0.0.1', '10.0.0.2'],
    );
    assert.equal(cache.add(a('10.0.0.2', 5), 'eth0'), 'renewed', 'and is found again among several');
    advance(2100);
    assert.deepEqual(expired, ['host.local/A']);
    assert.deepEqual(
      cache.get('host.local', 'A').map((r) => r.rr.data),
      ['10.0.0.2'],
    );
    advance(3000);
    assert.equal(cache.size, 0);
    assert.deepEqual(cache.get('host.local', 'A'), []);
    assert.equal(cache.newest('host.local', 'A'), undefined);
    assert.equal(cache.add(a('10.0.0.3', 5), 'eth0'), 'new', 'a name whose records all expired starts afresh');
    assert.equal(cache.size, 1);
  });

  it('storage: a flushing record ends the lone older datum of its name and type a second later', (t) => {
    t.after(() => mock.timers.reset());
    const { cache, advance } = setup();
    cache.add({ name: 'host.local', type: 'A', ttl: 100, flush: true, data: '10.0.0.1' }, 'eth0');
    advance(1500);
    cache.add({ name: 'host.local', type: 'A', ttl: 100, flush: true, data: '10.0.0.9' }, 'eth0');
    assert.equal(cache.get('host.local', 'A').length, 2, 'the old datum stays for its grace second');
    advance(1100);
    assert.deepEqual(
      cache.get('host.local', 'A').map((r) => r.rr.data),
      ['10.0.0.9'],
    );
  });
});
