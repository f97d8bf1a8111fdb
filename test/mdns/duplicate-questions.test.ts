/**
 * browser.ts under a fake clock: Duplicate Question Suppression (RFC 6762 §7.3). A peer's QM
 * question, with no known answer we lack, heard late enough in our wait stands in for our next
 * query of it; QU questions, legacy queriers, our own looped-back queries, known answers we do
 * not hold and links the peer was not heard on do not.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { Browser } from '../../src/adapters/mdns/browser.js';
import type { NetInterface } from '../../src/adapters/mdns/interfaces.js';
import { encodeMessage, type Message, packQuery, type Question, type Rr } from '../../src/adapters/mdns/packet.js';
import { readMessage } from '../../src/adapters/mdns/packet-reader.js';
import type { Target } from '../../src/adapters/mdns/prober.js';
import type { Service } from '../../src/registry.js';
import { browserHost, codec, eth0 } from './browser-host.js';
import { ipv4Interface } from './targets.js';

const OWN = eth0.v4[0]?.address as string;
const PEER = '169.254.7.2';
const eth1 = ipv4Interface('eth1', '169.254.8.1');
const BROWSE = codec.browseName('svc');

interface Sent {
  at: number;
  questions: Question[];
  known: Rr[];
  legacy: boolean;
}

afterEach(() => mock.restoreAll());

function setup(options: { shared?: boolean; targets?: Target[] } = {}) {
  let clock = 1_000_000;
  mock.timers.enable({ apis: ['setTimeout'] });
  // No jitter on the query schedule (interest.ts stretches intervals by up to 2 %): exact times.
  mock.method(Math, 'random', () => 0);
  const sent: Sent[] = [];
  const host = browserHost(() => clock, {
    query: (questions, known, legacy) => void sent.push({ at: clock, questions: [...questions], known: [...known], legacy }),
    portShared: () => options.shared ?? false,
    ...(options.targets && { targets: () => options.targets as Target[] }),
  });
  const browser = new Browser(host);
  const advanceTo = (at: number) => {
    while (clock < at) {
      const step = Math.min(5, at - clock);
      clock += step;
      mock.timers.tick(step);
    }
  };
  /** A query as it arrives off the wire (encoded, decoded: the QU bit and TC included). */
  const hear = (
    questions: Question[],
    known: Rr[] = [],
    from: { address?: string; port?: number; iface?: NetInterface; budget?: number } = {},
  ) => {
    for (const m of packQuery(questions, known, from.budget)) {
      const decoded = readMessage(encodeMessage(m));
      if (typeof decoded === 'string') throw new Error(decoded);
      browser.onQuery(decoded, {
        target: { iface: from.iface ?? eth0, family: 4 },
        address: from.address ?? PEER,
        port: from.port ?? 5353,
      });
    }
  };
  /** Our own query packets looped back (multicast loopback), as the sender packed them. */
  const echo = (s: Sent) => hear(s.questions, s.known, { address: OWN });
  /** Questions for our browse name in the queries sent so far. */
  const asked = () => sent.filter((s) => !s.legacy && s.questions.some((q) => q.name === BROWSE));
  return { browser, sent, asked, advanceTo, hear, echo, now: () => clock };
}

const question = (qu = false): Question => ({ name: BROWSE, type: 'PTR', qu });

/** The records of one fully known instance of `service` (PTR, SRV, TXT, A), as a response carries them. */
function instance(id: string, ip: string, serviceName = 'svc'): { records: Rr[]; ptr: Rr } {
  const node = { id, address: `${ip}:8080`, metadata: {} };
  const service: Service = { name: serviceName, version: '1.0.0', metadata: {}, endpoints: [], nodes: [node] };
  const name = codec.instanceName(codec.label(service, node));
  const host = `${id}-host.local`;
  const ptr: Rr = { name: codec.browseName(serviceName), type: 'PTR', ttl: 4500, flush: false, data: name };
  return {
    ptr,
    records: [
      ptr,
      { name, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port: 8080, target: host } },
      { name, type: 'TXT', ttl: 4500, flush: true, data: codec.txt(service, node, 1300) },
      { name: host, type: 'A', ttl: 120, flush: true, data: ip },
    ],
  };
}

function response(records: Rr[]): Message {
  return { id: 0, response: true, tc: false, questions: [], answers: records, authorities: [], additionals: [] };
}

describe('mdns browser: duplicate question suppression (RFC 6762 §7.3)', () => {
  it('a peer asking the same question late in our wait stands in for our query; the schedule moves on as if we had asked', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup();
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    assert.equal(asked().length, 1, 'the first query (QU: port 5353 is ours alone)');
    const t1 = asked()[0]!.at;
    // Our second query is due at t1 + 1000; the peer asks the same at t1 + 700.
    advanceTo(t1 + 700);
    hear([question()]);
    advanceTo(t1 + 1100);
    assert.equal(asked().length, 1, 'our second query was not sent');
    assert.equal(browser.queriesSuppressed, 1);
    // As if we had asked when the peer did, and a tenth of the (now 2 s) interval later than the
    // peer's next: the peer leads, we follow, whatever the jitter.
    advanceTo(t1 + 2890);
    assert.equal(asked().length, 1);
    advanceTo(t1 + 3000);
    assert.equal(asked().length, 2, 'the third query, on the schedule');
    const t3 = asked()[1]!.at;
    assert.ok(t3 >= t1 + 2900 && t3 <= t1 + 2910, `third query at +${t3 - t1}`);
    // A peer query in the first half of our wait (t3 .. t3 + 4000) is too early to stand in for ours.
    advanceTo(t3 + 1500);
    hear([question()]);
    advanceTo(t3 + 4100);
    assert.equal(asked().length, 3, 'asked: the peer asked too long before');
    assert.equal(browser.queriesSuppressed, 1);
  });

  it('a peer query listing a known answer we do not hold does not stand in for ours; one listing only ours does', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup();
    const a = instance('node-a', '169.254.7.10');
    const b = instance('node-b', '169.254.7.11');
    browser.onResponse(response(a.records), 'eth0', PEER);
    assert.equal(browser.instances, 1);
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    const t1 = asked()[0]!.at;
    assert.deepEqual(
      asked()[0]!.known.map((r) => r.data),
      [a.ptr.data],
      'we list node-a as known',
    );
    // The peer knows node-b, which we do not: responders would not tell us about it.
    advanceTo(t1 + 700);
    hear([question()], [a.ptr, b.ptr]);
    advanceTo(t1 + 1100);
    assert.equal(asked().length, 2, 'asked');
    assert.equal(browser.queriesSuppressed, 0);
    // The peer lists only what we hold (with any TTL): that stands in for ours.
    const t2 = asked()[1]!.at;
    advanceTo(t2 + 1500);
    hear([question()], [{ ...a.ptr, ttl: 4000 }]);
    advanceTo(t2 + 2100);
    assert.equal(asked().length, 2, 'suppressed');
    assert.equal(browser.queriesSuppressed, 1);
  });

  it('a QU question, or a query from a port other than 5353, does not stand in for ours (the answers go to the asker alone)', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup();
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    const t1 = asked()[0]!.at;
    advanceTo(t1 + 700);
    hear([question(true)]);
    hear([question()], [], { port: 49152 });
    advanceTo(t1 + 1100);
    assert.equal(asked().length, 2);
    assert.equal(browser.queriesSuppressed, 0);
  });

  it('our own query looped back never stands in for ours, even handled late; a neighbour process on this host asking does', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, echo, now } = setup();
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    const t1 = asked()[0]!.at;
    advanceTo(t1 + 1010);
    assert.equal(asked().length, 2);
    const second = asked()[1]!;
    assert.equal(second.questions[0]?.qu, false, 'the second query is QM');
    // The loopback of our second query, handled 1.5 s late (a busy event loop): in the second half of our 2 s wait.
    advanceTo(second.at + 1500);
    echo(second);
    advanceTo(second.at + 2100);
    assert.equal(asked().length, 3, 'our own echo did not suppress our query');
    assert.equal(browser.queriesSuppressed, 0);
    // The same question from our own address, but not a packet we sent lately: another process on this host.
    const third = asked()[2]!;
    advanceTo(third.at + 2500);
    hear([question()], [], { address: OWN });
    advanceTo(third.at + 4100);
    assert.equal(asked().length, 3, 'the neighbour process asked for us');
    assert.equal(browser.queriesSuppressed, 1);
  });

  it('a question heard on one link does not stand in for ours on a link it was not heard on', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup({
      targets: [
        { iface: eth0, family: 4 },
        { iface: eth1, family: 4 },
      ],
    });
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    const t1 = asked()[0]!.at;
    advanceTo(t1 + 700);
    hear([question()]);
    advanceTo(t1 + 1100);
    assert.equal(asked().length, 2, 'heard on eth0 only: asked');
    const t2 = asked()[1]!.at;
    advanceTo(t2 + 1500);
    hear([question()]);
    hear([question()], [], { iface: eth1, address: '169.254.8.2' });
    advanceTo(t2 + 2100);
    assert.equal(asked().length, 2, 'heard on both: suppressed');
  });

  it('a truncated query counts only once its last packet shows no known answer we lack', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup();
    const a = instance('node-a', '169.254.7.10');
    const b = instance('node-b', '169.254.7.11');
    const c = instance('node-c', '169.254.7.12');
    browser.onResponse(response([...a.records, ...b.records]), 'eth0', PEER);
    assert.equal(browser.instances, 2);
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    advanceTo(now() + 200);
    const t1 = asked()[0]!.at;
    // A tiny budget puts one known answer in each packet: TC on all but the last.
    advanceTo(t1 + 700);
    hear([question()], [a.ptr, c.ptr], { budget: 100 });
    advanceTo(t1 + 1100);
    assert.equal(asked().length, 2, 'node-c, in the second packet, is not ours: asked');
    const t2 = asked()[1]!.at;
    advanceTo(t2 + 1500);
    hear([question()], [a.ptr, b.ptr], { budget: 100 });
    advanceTo(t2 + 2100);
    assert.equal(asked().length, 2, 'every packet lists only ours: suppressed');
    assert.equal(browser.queriesSuppressed, 1);
  });

  it('a first query asking for unicast answers (QU) is never suppressed: no peer question brings those', (t) => {
    t.after(() => mock.timers.reset());
    const { browser, asked, advanceTo, hear, now } = setup();
    const watch = browser.interest('svc');
    t.after(() => watch.release());
    // The first query goes out 20-120 ms after the watch starts: the peer asks just before.
    advanceTo(now() + 15);
    hear([question()]);
    advanceTo(now() + 200);
    assert.equal(asked().length, 1, 'QU first query sent');
    assert.equal(asked()[0]!.questions[0]?.qu, true);
    assert.equal(browser.queriesSuppressed, 0);
  });

  it("a lookup's first query on a shared port 5353 (QM): suppressed by a peer's of the last 100 ms, its legacy query kept", async (t) => {
    t.after(() => mock.timers.reset());
    const { browser, sent, asked, advanceTo, hear, now } = setup({ shared: true });
    hear([question()]);
    advanceTo(now() + 50);
    const lookup = browser.lookup('svc', new AbortController().signal);
    advanceTo(now() + 10);
    assert.equal(asked().length, 0, 'the multicast question was suppressed');
    assert.equal(browser.queriesSuppressed, 1);
    assert.deepEqual(
      sent.filter((s) => s.legacy).map((s) => s.questions.map((q) => q.name)),
      [[BROWSE]],
      'the legacy query still went out',
    );
    advanceTo(now() + 300);
    assert.deepEqual(await lookup, []);
  });

  it("a lookup's first query is not suppressed by a peer's heard more than 100 ms before, nor by a multi-packet one", async (t) => {
    t.after(() => mock.timers.reset());
    const { browser, sent, asked, advanceTo, hear, now } = setup({ shared: true });
    hear([question()]);
    advanceTo(now() + 150);
    const first = browser.lookup('svc', new AbortController().signal);
    advanceTo(now() + 10);
    assert.equal(asked().length, 1, 'heard 150 ms ago: asked');
    advanceTo(now() + 300);
    await first;
    // A truncated query's answers come 400-500 ms late, after our response window.
    const a = instance('node-a', '169.254.7.10', 'other');
    const b = instance('node-b', '169.254.7.11', 'other');
    browser.onResponse(response([...a.records, ...b.records]), 'eth0', PEER);
    const other: Question = { name: codec.browseName('other'), type: 'PTR', qu: false };
    hear([other], [a.ptr, b.ptr], { budget: 100 });
    const second = browser.lookup('other', new AbortController().signal);
    advanceTo(now() + 10);
    assert.equal(sent.filter((s) => !s.legacy && s.questions.some((q) => q.name === other.name)).length, 1, 'asked');
    advanceTo(now() + 300);
    await second;
    assert.equal(browser.queriesSuppressed, 0);
  });
});

/** A small seeded generator (mulberry32), so a run that fails can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe('mdns browser: two browsers of one question on one link', () => {
  /**
   * Two browsers on a shared fake clock, each query reaching the other `lag` ms after it went
   * out. Within one millisecond, timers run before arrivals are read, as in Node's event loop:
   * a browser whose timer fires while the peer's query waits unread sends its own.
   */
  function pair(seed: number, lag: number) {
    let clock = 1_000_000;
    mock.timers.enable({ apis: ['setTimeout'] });
    mock.method(Math, 'random', seeded(seed));
    const wire: { at: number; from: number; questions: Question[]; known: Rr[] }[] = [];
    const sent: { at: number; from: number }[] = [];
    const addresses = ['169.254.7.1', '169.254.7.2'];
    const browsers: Browser[] = [];
    /** Each browser's one link: where it queries, and where it hears the other. */
    const links: Target[] = addresses.map((address) => ({ iface: ipv4Interface('eth0', address), family: 4 }));
    for (const [index, link] of links.entries()) {
      const host = browserHost(() => clock, {
        maxQueryInterval: 1000,
        targets: () => [link],
        query: (questions, known, legacy) => {
          if (legacy) return;
          sent.push({ at: clock, from: index });
          wire.push({ at: clock + lag, from: index, questions: [...questions], known: [...known] });
        },
      });
      browsers.push(new Browser(host));
    }
    const run = (ms: number) => {
      for (const end = clock + ms; clock < end; ) {
        clock += 1;
        mock.timers.tick(1);
        while (wire.length > 0 && (wire[0] as { at: number }).at <= clock) {
          const q = wire.shift() as (typeof wire)[number];
          for (const m of packQuery(q.questions, q.known)) {
            const decoded = readMessage(encodeMessage(m));
            if (typeof decoded === 'string') throw new Error(decoded);
            const to = 1 - q.from;
            (browsers[to] as Browser).onQuery(decoded, { target: links[to] as Target, address: addresses[q.from] as string, port: 5353 });
          }
        }
      }
    };
    return { browsers, sent, run, now: () => clock };
  }

  for (const lag of [2, 20, 90]) {
    it(`settle into one querier and stay so, whatever their phases (arrivals read ${lag} ms late)`, (t) => {
      t.after(() => mock.timers.reset());
      const runs: string[] = [];
      let failed = false;
      for (let seed = 1; seed <= 8; seed++) {
        const { browsers, sent, run, now } = pair(seed, lag);
        const watches = browsers.map((b) => b.interest('svc'));
        run(10_000);
        const from = now();
        run(300_000);
        const steady = sent.filter((s) => s.at >= from);
        const together = steady.filter((s, i) => i > 0 && s.from !== steady[i - 1]?.from && s.at - (steady[i - 1]?.at ?? 0) < 500);
        runs.push(`seed ${seed}: ${steady.length} queries, ${together.length} rounds asked by both`);
        // One query a second (each interval stretched by at most 2 %), and never both asking.
        failed ||= steady.length > 301 || together.length > 0;
        // The querier that leads goes away: the other asks within 1.12 intervals of hearing its last query, then every second.
        const leader = steady.at(-1)?.from as number;
        const last = steady.at(-1)?.at as number;
        watches[leader]?.release();
        browsers[leader]?.close();
        run(10_000);
        const after = sent.filter((s) => s.at > last);
        const gaps = after.map((s, i) => s.at - (i === 0 ? last : (after[i - 1]?.at as number)));
        if (after.some((s) => s.from === leader) || after.length < 9 || Math.max(...gaps) > lag + 1125) {
          failed = true;
          runs.push(`seed ${seed}: after the leader left, gaps ${gaps.join(' ')}`);
        }
        for (const w of watches) w.release();
        for (const b of browsers) b.close();
        mock.timers.reset();
        mock.restoreAll();
      }
      assert.ok(!failed, `in 300 s: ${runs.join('; ')}`);
    });
  }
});
