/**
 * Proves the namespace LAN is a real multicast LAN: mDNS packets cross the
 * bridge, a cut cable isolates a host, nftables loss drops what it should,
 * tcpdump sees the wire, and avahi-daemon and a Go hashicorp/mdns peer
 * interoperate with multicast-dns from another host.
 *
 * Needs root (and scripts/peers/lan.sh). Without it the tests skip loudly;
 * under CI=true they fail instead.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { queryGoMdns, serveGoMdns } from './go-mdns.js';
import { createLan, jsonLines, type LanHost, requireLan, startAvahi, stopChild, waitForLine } from './lan.js';

const require = createRequire(import.meta.url);
const MDNS_MODULE = require.resolve('multicast-dns');
// dns-packet ships no types; only decode() is used here.
const dnsPacket = require('dns-packet') as { decode(buf: Buffer): DecodedPacket };

interface DecodedPacket {
  type: 'query' | 'response';
  id: number;
  flags: number;
  questions: { name: string; type: string; class: string }[];
  answers: { name: string; type: string; ttl: number; data: unknown }[];
  additionals: { name: string; type: string; ttl: number; data: unknown }[];
}

/**
 * A small multicast-dns peer run with `node -e` inside a namespace, so nothing
 * but this file is needed. Config comes in PEER_CONFIG; every event is one
 * JSON line on stdout. Modes:
 *  - listen:  report every packet;
 *  - respond: answer questions for the names in `records` (multicast, or
 *             unicast to the asker with `unicast: true`);
 *  - query:   `count` sequential queries for `name`, each waiting for an answer
 *             naming it, reporting the round trip;
 *  - blast:   `count` queries named `<prefix>-<i>.local`, `intervalMs` apart;
 *  - browse:  a PTR query for `name` every `repeatMs` (a responder may hold
 *             back a record it multicast less than 1 s ago, RFC 6762 §6),
 *             reporting every response, for `waitMs` or until answered.
 */
const PEER_SCRIPT = `
const mdns = require(process.env.MDNS_MODULE);
const cfg = JSON.parse(process.env.PEER_CONFIG);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const m = mdns({ loopback: cfg.loopback !== false });
const now = () => Number(process.hrtime.bigint()) / 1e6;
const view = (p) => ({
  type: p.type, id: p.id,
  questions: p.questions.map((q) => ({ name: q.name, type: q.type, class: q.class })),
  answers: p.answers.concat(p.additionals || []).map((a) => ({
    name: a.name, type: a.type, ttl: a.ttl,
    data: Buffer.isBuffer(a.data) ? a.data.toString('hex')
      : Array.isArray(a.data) ? a.data.map((d) => d.toString()) : a.data,
  })),
});
m.on('error', (e) => { out({ ev: 'error', message: String(e) }); process.exit(1); });
m.on('warning', (e) => out({ ev: 'warning', message: String(e) }));
const done = () => m.destroy(() => process.exit(0));
process.on('SIGTERM', done);
m.on('ready', () => {
  out({ ev: 'ready' });
  if (cfg.mode === 'listen') {
    m.on('packet', (p, r) => out({ ev: 'packet', at: now(), from: r.address, port: r.port, ...view(p) }));
  } else if (cfg.mode === 'respond') {
    m.on('query', (q, r) => {
      for (const question of q.questions) {
        const rec = cfg.records[question.name.toLowerCase()];
        if (!rec) continue;
        const res = { answers: rec.answers, additionals: rec.additionals || [] };
        if (cfg.unicast) m.respond(res, { address: r.address, port: r.port });
        else m.respond(res);
        out({ ev: 'answered', name: question.name, to: r.address + ':' + r.port });
      }
    });
  } else if (cfg.mode === 'query') {
    const rtts = [];
    let i = 0, sentAt = 0, timer = null;
    const next = () => {
      if (i >= cfg.count) { out({ ev: 'done', rtts, lost: cfg.count - rtts.length }); return done(); }
      i++;
      sentAt = now();
      m.query({ questions: [{ name: cfg.name, type: cfg.type || 'A' }] });
      timer = setTimeout(() => { out({ ev: 'timeout', i }); next(); }, cfg.timeoutMs || 1000);
    };
    m.on('response', (p, r) => {
      if (!timer || !p.answers.some((a) => a.name === cfg.name)) return;
      clearTimeout(timer); timer = null;
      const ms = now() - sentAt;
      rtts.push(ms);
      out({ ev: 'rtt', ms, from: r.address, ...view(p) });
      setTimeout(next, cfg.gapMs || 5);
    });
    next();
  } else if (cfg.mode === 'blast') {
    let i = 0;
    const tick = () => {
      if (i >= cfg.count) { out({ ev: 'sent', count: i }); return setTimeout(done, 50); }
      m.query({ questions: [{ name: cfg.prefix + '-' + i + '.local', type: 'A' }] }, (err) => {
        if (err) out({ ev: 'send-error', i, message: String(err) });
      });
      i++;
      setTimeout(tick, cfg.intervalMs || 1);
    };
    tick();
  } else if (cfg.mode === 'browse') {
    const ask = () => m.query({ questions: [{ name: cfg.name, type: 'PTR' }] });
    let finished = false;
    const finish = () => { if (finished) return; finished = true; clearInterval(again); done(); };
    m.on('response', (p, r) => {
      out({ ev: 'response', from: r.address, port: r.port, ...view(p) });
      const named = p.answers.concat(p.additionals || []).some((a) => a.type === 'PTR' && a.name === cfg.name);
      if (named && cfg.untilAnswered) setTimeout(finish, 100);
    });
    ask();
    const again = setInterval(ask, cfg.repeatMs || 1000);
    setTimeout(finish, cfg.waitMs || 1500);
  }
});
`;

interface PeerEvent {
  ev: string;
  [key: string]: unknown;
}

interface PacketView {
  type: 'query' | 'response';
  from: string;
  port: number;
  questions: { name: string; type: string; class: string }[];
  answers: { name: string; type: string; ttl: number; data: unknown }[];
}

interface Peer {
  child: ChildProcess;
  events: PeerEvent[];
  /** Resolves with the first event (already seen or future) matching `pred`. */
  waitFor(pred: (e: PeerEvent) => boolean, timeoutMs?: number): Promise<PeerEvent>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

async function startPeer(host: LanHost, cfg: Record<string, unknown>): Promise<Peer> {
  const child = host.exec(process.execPath, ['-e', PEER_SCRIPT], {
    env: { ...process.env, MDNS_MODULE, PEER_CONFIG: JSON.stringify(cfg) },
  });
  const events: PeerEvent[] = [];
  const waiters = new Set<(e: PeerEvent) => void>();
  jsonLines<PeerEvent>(child.stdout, (e) => {
    events.push(e);
    for (const w of [...waiters]) w(e);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const waitFor = (pred: (e: PeerEvent) => boolean, timeoutMs = 5000): Promise<PeerEvent> => {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${host.name}: timed out waiting for a peer event; stderr: ${stderr.trim()}`));
      }, timeoutMs);
      const check = (e: PeerEvent) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(e);
      };
      waiters.add(check);
    });
  };
  const ready = await waitFor((e) => e.ev === 'ready' || e.ev === 'error');
  if (ready.ev === 'error') throw new Error(`${host.name}: multicast-dns failed: ${String(ready.message)}`);
  return { child, events, waitFor, exited, stop: () => stopChild(child, 1000) };
}

/** Run a peer that ends by itself and return its events. */
async function runPeer(host: LanHost, cfg: Record<string, unknown>): Promise<PeerEvent[]> {
  const peer = await startPeer(host, cfg);
  const code = await peer.exited;
  assert.equal(code, 0, `${host.name} peer exited with ${code}: ${JSON.stringify(peer.events.slice(-3))}`);
  return peer.events;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

function queriesNamed(events: PeerEvent[], prefix: string): number {
  return events.filter((e) => e.ev === 'packet' && (e as unknown as PacketView).questions.some((q) => q.name.startsWith(prefix))).length;
}

describe('LAN peers in network namespaces', { timeout: 60_000 }, () => {
  test('two hosts exchange a multicast-dns query and response across the bridge', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      assert.notEqual(a.netns, b.netns);
      assert.match(a.address, /^169\.254\.\d+\.1$/);
      await startPeer(a, {
        mode: 'respond',
        records: { 'rtt-a.local': { answers: [{ name: 'rtt-a.local', type: 'A', ttl: 120, data: a.address }] } },
      });
      const events = await runPeer(b, { mode: 'query', name: 'rtt-a.local', count: 20, timeoutMs: 1000 });
      const done = events.find((e) => e.ev === 'done') as { rtts: number[]; lost: number } | undefined;
      assert.ok(done, 'query peer finished');
      assert.equal(done.lost, 0, 'every query answered');
      const first = events.find((e) => e.ev === 'rtt') as unknown as PacketView;
      assert.equal(first.from, a.address, 'the answer comes from host a');
      assert.deepEqual(
        first.answers.map((x) => [x.name, x.type, x.data]),
        [['rtt-a.local', 'A', a.address]],
      );
      const p50 = percentile(done.rtts, 50);
      const max = Math.max(...done.rtts);
      t.diagnostic(`multicast-dns round trip a<->b over 20 queries: p50 ${p50.toFixed(2)} ms, max ${max.toFixed(2)} ms`);
      assert.ok(p50 < 200, `p50 round trip ${p50} ms`);
    } finally {
      await lan.destroy();
    }
  });

  test('a host whose link is down receives nothing, and hears again once it is up', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      const listener = await startPeer(b, { mode: 'listen' });
      const blast = async (prefix: string, expect: number) => {
        await runPeer(a, { mode: 'blast', prefix, count: 10, intervalMs: 5 });
        if (expect > 0) {
          await listener.waitFor(() => queriesNamed(listener.events, `${prefix}-`) >= expect, 2000).catch(() => {});
        } else {
          await sleep(300);
        }
        return queriesNamed(listener.events, `${prefix}-`);
      };
      assert.equal(await blast('before', 10), 10, 'all 10 queries arrive while the link is up');
      for (const mode of ['cable', 'admin'] as const) {
        await b.linkDown(mode);
        assert.equal(await blast(`down${mode}`, 0), 0, `nothing arrives while b is cut off (${mode})`);
        await b.linkUp();
        assert.equal(await blast(`up${mode}`, 10), 10, `all 10 queries arrive again after linkUp (${mode})`);
      }
      const route = await b.run('ip', ['route', 'show', '224.0.0.0/4']);
      assert.match(route.stdout, /224\.0\.0\.0\/4 dev eth0/, 'multicast route restored');
    } finally {
      await lan.destroy();
    }
  });

  test('a 30 % nftables loss rule drops about 30 % of 200 mDNS packets', async (t) => {
    if (!requireLan(t, ['nft'])) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      const listener = await startPeer(b, { mode: 'listen' });
      await b.addUdpLoss(30, { port: 5353 });
      const rules = await b.run('nft', ['list', 'ruleset']);
      assert.match(rules.stdout, /numgen random mod 100 < 30/);
      await runPeer(a, { mode: 'blast', prefix: 'lossy', count: 200, intervalMs: 1 });
      await sleep(300);
      const received = queriesNamed(listener.events, 'lossy-');
      const lossPct = ((200 - received) / 200) * 100;
      t.diagnostic(`30 % rule: ${received}/200 received, ${lossPct.toFixed(1)} % lost`);
      // Binomial(200, 0.3) has a standard deviation of ~6.5 packets; this band is > 6 of them.
      assert.ok(received >= 100 && received <= 180, `received ${received} of 200`);

      await b.clearLoss();
      await runPeer(a, { mode: 'blast', prefix: 'clean', count: 50, intervalMs: 1 });
      await listener.waitFor(() => queriesNamed(listener.events, 'clean-') >= 50, 2000).catch(() => {});
      assert.equal(queriesNamed(listener.events, 'clean-'), 50, 'no loss after clearLoss');
    } finally {
      await lan.destroy();
    }
  });

  test('tcpdump inside a namespace captures the mDNS packets on the wire', async (t) => {
    if (!requireLan(t, ['tcpdump'])) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      await startPeer(a, {
        mode: 'respond',
        records: { 'cap-a.local': { answers: [{ name: 'cap-a.local', type: 'A', ttl: 120, data: a.address }] } },
      });
      const cap = await b.capture('udp port 5353');
      await runPeer(b, { mode: 'query', name: 'cap-a.local', count: 3 });
      const { packets, path } = await cap.stop();
      assert.match(path, /\.pcap$/);
      const decoded = packets.filter((p) => p.family === 4).map((p) => ({ p, dns: dnsPacket.decode(p.payload) }));
      const queries = decoded.filter((x) => x.dns.type === 'query' && x.dns.questions.some((q) => q.name === 'cap-a.local'));
      const answers = decoded.filter((x) => x.dns.type === 'response' && x.dns.answers.some((r) => r.name === 'cap-a.local'));
      assert.equal(queries.length, 3, 'three queries on the wire');
      assert.equal(answers.length, 3, 'three answers on the wire');
      for (const { p } of queries) {
        assert.equal(p.src, b.address);
        assert.equal(p.dst, '224.0.0.251');
        assert.equal(p.dstPort, 5353);
        assert.equal(p.ttl, 255, 'multicast-dns sends with IP TTL 255');
      }
      for (const { p, dns } of answers) {
        assert.equal(p.src, a.address);
        assert.equal(p.dst, '224.0.0.251');
        assert.equal(dns.flags & 0x0400, 0x0400, 'AA bit set');
      }
      const q0 = queries[0];
      const a0 = answers[0];
      assert.ok(q0 && a0);
      t.diagnostic(`wire time query -> answer seen on b: ${(a0.p.timeMs - q0.p.timeMs).toFixed(3)} ms`);
    } finally {
      await lan.destroy();
    }
  });

  test('avahi-daemon in a namespace publishes a service seen by avahi-browse and by multicast-dns on another host', async (t) => {
    if (!requireLan(t, ['avahi'])) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      const started = Date.now();
      const avahi = await startAvahi(a, { hostName: 'rollcall-a' });
      const pub = await avahi.publish('Rollcall Test', '_rollcall._tcp', 4242, ['path=/x', 'v=1']);
      assert.equal(pub.name, 'Rollcall Test');

      const seen = await avahi.browse('_rollcall._tcp');
      const mine = seen.find((s) => s.name === 'Rollcall Test');
      assert.ok(mine, `avahi-browse lists the service: ${JSON.stringify(seen)}`);
      assert.equal(mine.port, 4242);
      assert.equal(mine.address, a.address);
      assert.equal(mine.hostName, 'rollcall-a.local');
      assert.deepEqual([...(mine.txt ?? [])].sort(), ['path=/x', 'v=1']);
      t.diagnostic(`avahi start + publish + browse: ${Date.now() - started} ms`);

      const events = await runPeer(b, { mode: 'browse', name: '_rollcall._tcp.local', waitMs: 5000, untilAnswered: true });
      const records = events
        .filter((e) => e.ev === 'response')
        .flatMap((e) => (e as unknown as PacketView).answers.map((r) => ({ ...r, from: (e as unknown as PacketView).from })));
      const ptr = records.find((r) => r.type === 'PTR' && r.name === '_rollcall._tcp.local');
      assert.ok(ptr, `PTR answer from avahi: ${JSON.stringify(records)}`);
      assert.equal(ptr.data, 'Rollcall Test._rollcall._tcp.local');
      assert.equal(ptr.from, a.address);
      const srv = records.find((r) => r.type === 'SRV' && r.name === 'Rollcall Test._rollcall._tcp.local');
      const srvData = srv?.data as { port?: number; target?: string } | undefined;
      assert.equal(srvData?.port, 4242);
      assert.equal(srvData?.target, 'rollcall-a.local');
      const txt = records.find((r) => r.type === 'TXT' && r.name === 'Rollcall Test._rollcall._tcp.local');
      assert.deepEqual([...((txt?.data as string[]) ?? [])].sort(), ['path=/x', 'v=1']);
      const addr = records.find((r) => r.type === 'A' && r.name === 'rollcall-a.local');
      assert.equal(addr?.data, a.address);

      await pub.stop();
      await avahi.stop();
      assert.throws(() => process.kill(avahi.pid, 0), 'avahi-daemon is gone after stop()');
    } finally {
      await lan.destroy();
    }
  });

  test('a Go hashicorp/mdns peer and a multicast-dns peer on different hosts see each other', async (t) => {
    if (!requireLan(t, ['go-mdns'])) return;
    const lan = await createLan({ hosts: ['a', 'b'] });
    try {
      const { a, b } = lan.hosts;
      // Go serves in a; multicast-dns queries from b (Go Micro's naming: domain `micro`, no _x._tcp).
      const go = await serveGoMdns(a, {
        instance: 'node-1',
        service: 'greeter',
        domain: 'micro',
        port: 9090,
        hostName: 'go-a.micro',
        txt: ['k=v', 'hello=world'],
      });
      assert.equal(go.instance, 'node-1.greeter.micro.');
      const events = await runPeer(b, { mode: 'browse', name: 'greeter.micro', waitMs: 3000, untilAnswered: true });
      const responses = events.filter((e) => e.ev === 'response') as unknown as PacketView[];
      const fromGo = responses.find((r) => r.answers.some((x) => x.type === 'PTR' && x.name === 'greeter.micro'));
      assert.ok(fromGo, `answer from the Go server: ${JSON.stringify(responses)}`);
      assert.equal(fromGo.from, a.address);
      // hashicorp/mdns answers straight to the asker's address and port and leaves the question out.
      assert.equal(fromGo.port, 5353);
      assert.deepEqual(fromGo.questions, []);
      const byType = new Map(fromGo.answers.map((x) => [x.type, x]));
      assert.equal(byType.get('PTR')?.data, 'node-1.greeter.micro');
      assert.deepEqual(byType.get('SRV')?.data, { priority: 10, weight: 1, port: 9090, target: 'go-a.micro' });
      assert.deepEqual(byType.get('TXT')?.data, ['k=v', 'hello=world']);
      assert.equal(byType.get('A')?.data, a.address);
      await go.stop();

      // multicast-dns serves in b; the Go client queries from a.
      const instance = 'node-2.greeter.micro';
      await startPeer(b, {
        mode: 'respond',
        unicast: true,
        records: {
          'greeter.micro': {
            answers: [
              { name: 'greeter.micro', type: 'PTR', ttl: 120, data: instance },
              { name: instance, type: 'SRV', ttl: 120, data: { priority: 10, weight: 1, port: 8080, target: 'node-b.micro' } },
              { name: instance, type: 'TXT', ttl: 120, data: ['from=node'] },
              { name: 'node-b.micro', type: 'A', ttl: 120, data: b.address },
            ],
          },
        },
      });
      const started = Date.now();
      const q = await queryGoMdns(a, { service: 'greeter', domain: 'micro', timeoutMs: 500 });
      assert.equal(q.code, 0, `go query failed: ${q.stderr}`);
      const entry = q.entries.find((e) => e.name === `${instance}.`);
      assert.ok(entry, `Go client found the node entry: ${JSON.stringify(q.entries)}`);
      assert.equal(entry.addrV4, b.address);
      assert.equal(entry.port, 8080);
      assert.equal(entry.host, 'node-b.micro.');
      assert.deepEqual(entry.infoFields, ['from=node']);
      t.diagnostic(`Go client: entry complete ${entry.atMs} ms after its query (run ${Date.now() - started} ms incl. 500 ms wait)`);
    } finally {
      await lan.destroy();
    }
  });

  test('destroy removes every namespace and kills every process', async (t) => {
    if (!requireLan(t)) return;
    const lan = await createLan({ hosts: ['a', 'b', 'c'] });
    const sleeper = lan.hosts.c.exec('sleep', ['60']);
    await waitForLine(lan.hosts.c.exec('sh', ['-c', 'echo up']).stdout, /up/, 5000, 'echo');
    await lan.destroy();
    assert.ok(sleeper.exitCode !== null || sleeper.signalCode !== null, 'tracked process killed');
    const { execFileSync } = await import('node:child_process');
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.ok(!left.includes(lan.id), `namespaces of ${lan.id} remain: ${left}`);
    await lan.destroy();
  });
});
