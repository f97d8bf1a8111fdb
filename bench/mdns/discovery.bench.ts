/**
 * mdns: rollcall and bonjour-service side by side in one run, in the same topology: a publisher
 * on one network-namespace host, a watcher on another, across a bridge. Each library has its own
 * copy of that LAN, and their registrations take turns, so both see the same machine at the same
 * time. (On one shared LAN every announcement would wake both watchers at once; on two cores the
 * one the kernel delivers to second, which is decided by which of them bound port 5353 first,
 * waits for a core: 50-100 µs of socket order, not of library.)
 *
 * - first announcement on the wire -> the watcher's event on the other host, p50/p99 over 100
 *   registrations each (probing, RFC-mandated and about a second, reported separately);
 * - cold lookup: a fresh process-level registry asked for one service;
 * - warm getService from the cache, against an awaited Map.get (the same async shape).
 *
 * Needs root on Linux (namespaces); elsewhere it says so and skips.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createLan, type LanHost, lanAvailable } from '../../test/peers/lan.js';

type LanHosts = Record<'pub' | 'sub', LanHost>;

import { fmt, median, quantile, report } from '../lib.js';

/**
 * The target is stated over 100 registrations. MDNS_BENCH_N asks for more, to narrow the p50s when
 * comparing two builds; with more services bonjour-service's browser slows down (it scans every
 * service it knows on every packet), so ratios at other counts are not the target's.
 */
const REGISTRATIONS = Number(process.env.MDNS_BENCH_N ?? 100);
/**
 * Registrations before the measured ones, for both libraries alike, as bench/lib.ts warms up its
 * rounds: the numbers are those of processes past their first packets, not of code V8 has not
 * compiled yet.
 */
const WARMUP = 50;
const COLD_LOOKUPS = 20;
/**
 * Registrations start this far apart, taking turns between the two libraries, so each library's
 * registrations are 260 ms apart: announcements never overlap, and rollcall's prober, which
 * gathers names claimed within its first random wait (at most 250 ms, RFC 6762 §8.1) into shared
 * probe and announcement packets, meets one registration at a time, as bonjour-service does.
 * (Closer together, two new nodes arrive in one packet and the watcher's event for the first
 * waits for the second: a batch, not the per-registration latency this measures.)
 */
const STAGGER_MS = 130;
const root = new URL('../..', import.meta.url).pathname;
const script = new URL('./peer.ts', import.meta.url).pathname;

type Event = {
  ev: string;
  name?: string;
  at?: number;
  arrivedAt?: number;
  callAt?: number;
  announcedAt?: number;
  ms?: number;
  found?: number;
  floorNs?: number;
  getServiceNs?: number;
  faults?: number;
};

class Peer {
  readonly events: Event[] = [];
  readonly #waiters = new Set<() => void>();
  readonly child: ChildProcess;
  #stderr = '';

  constructor(host: LanHost, role: string) {
    this.child = host.exec(process.execPath, ['--import', 'tsx', script, role], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.events.push(JSON.parse(line) as Event);
      for (const w of this.#waiters) w();
    });
  }

  send(cmd: object): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }

  until(predicate: (events: Event[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.events)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}: ${this.#stderr.slice(-1000)}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  find(ev: string, name: string): Event | undefined {
    return this.events.find((e) => e.ev === ev && e.name === name);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<Record<string, number> | undefined> {
  const status = lanAvailable();
  if (!status.ok) {
    console.log(`\n## mdns: skipped (${status.reason})`);
    return undefined;
  }
  const lans: Array<Awaited<ReturnType<typeof createLan<'pub' | 'sub'>>>> = [];
  try {
    for (const subnet of [231, 232]) lans.push(await createLan({ hosts: ['pub', 'sub'], ipv6: false, subnet }));
    const [rcLan, bjLan] = lans.map((l) => l.hosts) as [LanHosts, LanHosts];
    const peers = {
      rcPub: new Peer(rcLan.pub, 'rollcall-publisher'),
      rcSub: new Peer(rcLan.sub, 'rollcall-watcher'),
      bjPub: new Peer(bjLan.pub, 'bonjour-publisher'),
      bjSub: new Peer(bjLan.sub, 'bonjour-watcher'),
    };
    await Promise.all(Object.values(peers).map((p) => p.until((e) => e.some((x) => x.ev === 'ready'), 30_000, 'peer ready')));

    const systems = [
      { label: 'rollcall', pub: peers.rcPub, sub: peers.rcSub, prefix: 'rc', address: rcLan.pub.address },
      { label: 'bonjour-service', pub: peers.bjPub, sub: peers.bjSub, prefix: 'bj', address: bjLan.pub.address },
    ];
    // MDNS_BENCH_ONLY=rc (or bj) runs one library alone, on an otherwise idle machine.
    const only = process.env.MDNS_BENCH_ONLY;
    for (let i = -WARMUP; i < REGISTRATIONS; i++) {
      for (const s of systems) {
        if (only && s.prefix !== only) continue;
        s.pub.send({ cmd: 'register', name: i < 0 ? `${s.prefix}-warm${-i}` : `${s.prefix}-${i}`, host: s.address, port: 20_000 + i });
        await sleep(STAGGER_MS);
      }
    }
    const results: Record<string, { announce: number[]; probing: number[]; cold: number[] }> = {};
    /** With MDNS_BENCH_TRACE=1: where the time goes (wire and wake-up, then processing in the watcher). */
    const split: Array<[string, number, number, number]> = [];
    for (const s of systems) {
      if (only && s.prefix !== only) {
        results[s.label] = { announce: [Number.NaN], probing: [Number.NaN], cold: [Number.NaN] };
        continue;
      }
      const names = Array.from({ length: REGISTRATIONS }, (_, i) => `${s.prefix}-${i}`);
      await s.pub.until(
        (e) => names.every((n) => e.some((x) => x.ev === 'registered' && x.name === n)),
        60_000,
        `${s.label} registrations`,
      );
      await s.sub.until((e) => names.every((n) => e.some((x) => x.ev === 'up' && x.name === n)), 30_000, `${s.label} watch events`);
      const announce: number[] = [];
      const probing: number[] = [];
      for (const n of names) {
        const reg = s.pub.find('registered', n);
        const up = s.sub.find('up', n);
        if (reg?.announcedAt && up?.at) announce.push(up.at - reg.announcedAt);
        if (reg?.announcedAt && reg.callAt) probing.push(reg.announcedAt - reg.callAt);
        if (up?.arrivedAt && up.at && reg?.announcedAt)
          split.push([s.label, up.arrivedAt - reg.announcedAt, up.at - up.arrivedAt, up.faults ?? Number.NaN]);
      }
      results[s.label] = { announce, probing, cold: [] };
    }

    for (const label of ['rollcall', 'bonjour-service']) {
      const rows = split.filter((r) => r[0] === label);
      if (rows.length === 0) continue;
      const p50 = (i: 1 | 2) => median(rows.map((r) => r[i])).toFixed(3);
      // The wire and the wake-up vary far more than processing does: their spread says how much a p50 ratio can move.
      const wire = [0.1, 0.5, 0.9]
        .map((q) =>
          quantile(
            rows.map((r) => r[1]),
            q,
          ).toFixed(3),
        )
        .join(' / ');
      const faults = (rows.reduce((sum, r) => sum + r[3], 0) / rows.length).toFixed(2);
      console.log(
        `  ${label}: send -> datagram in the watcher ${wire} ms (p10 / p50 / p90), datagram -> event ${p50(2)} ms (p50), ${faults} minor page faults per event (mean)`,
      );
    }
    // Cold lookups, alternating, after the announcements have quietened down.
    await sleep(3500);
    for (let i = 0; i < COLD_LOOKUPS; i++) {
      for (const s of i % 2 === 0 ? systems : [...systems].reverse()) {
        const name = `${s.prefix}-${i}`;
        s.sub.send({ cmd: s.prefix === 'rc' ? 'cold-rollcall' : 'cold-bonjour', name });
        await s.sub.until((e) => e.some((x) => x.ev === 'cold' && x.name === name), 10_000, `${s.label} cold lookup`);
        const r = s.sub.find('cold', name);
        if (r?.found) results[s.label]?.cold.push(r.ms ?? Number.NaN);
      }
    }
    peers.rcSub.send({ cmd: 'warm', name: 'rc-0' });
    await peers.rcSub.until((e) => e.some((x) => x.ev === 'warm'), 60_000, 'warm getService');
    const warm = peers.rcSub.events.find((e) => e.ev === 'warm') as Event;

    const rc = results.rollcall as { announce: number[]; probing: number[]; cold: number[] };
    const bj = results['bonjour-service'] as { announce: number[]; probing: number[]; cold: number[] };
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const ratio = median(rc.announce) / median(bj.announce);
    report(`mdns: first announcement -> watch event on the other host (${REGISTRATIONS} registrations each, two namespace hosts)`, [
      ['rollcall p50 / p99', `${ms(median(rc.announce))} / ${ms(quantile(rc.announce, 0.99))}  (n=${rc.announce.length})`],
      ['bonjour-service p50 / p99', `${ms(median(bj.announce))} / ${ms(quantile(bj.announce, 0.99))}  (n=${bj.announce.length})`],
      ['ratio (p50)', `${fmt.ratio(ratio)} (target <= 1.0x)`],
    ]);
    report('mdns: probing, register() -> first announcement (RFC 6762 §8.1: 0-250 ms wait + 3 probes 250 ms apart)', [
      ['rollcall p50 / p99', `${ms(median(rc.probing))} / ${ms(quantile(rc.probing, 0.99))}`],
      ['bonjour-service p50 / p99', `${ms(median(bj.probing))} / ${ms(quantile(bj.probing, 0.99))}`],
    ]);
    report(`mdns: cold lookup in a fresh registry (${COLD_LOOKUPS} each)`, [
      ['rollcall getService p50 / p99', `${ms(median(rc.cold))} / ${ms(quantile(rc.cold, 0.99))}  (found ${rc.cold.length})`],
      ['bonjour-service find -> first up p50 / p99', `${ms(median(bj.cold))} / ${ms(quantile(bj.cold, 0.99))}  (found ${bj.cold.length})`],
      ['note', 'rollcall waits out the 20-120 ms window in which RFC 6762 §6 lets responders answer shared records'],
    ]);
    const beyond = (warm.getServiceNs ?? 0) - (warm.floorNs ?? 0);
    report('mdns: warm getService from the cache', [
      ['await Map.get (floor)', fmt.ns(warm.floorNs ?? Number.NaN)],
      ['getService', `${fmt.ns(warm.getServiceNs ?? Number.NaN)}  = ${fmt.ns(beyond)} beyond the promise (target < 1 µs)`],
    ]);
    for (const p of Object.values(peers)) p.send({ cmd: 'quit' });
    await Promise.all(Object.values(peers).map((p) => p.until((e) => e.some((x) => x.ev === 'bye'), 10_000, 'bye').catch(() => {})));
    return {
      announceP50Ms: median(rc.announce),
      bonjourAnnounceP50Ms: median(bj.announce),
      announceRatio: ratio,
      probingP50Ms: median(rc.probing),
      coldP50Ms: median(rc.cold),
      warmBeyondFloorNs: beyond,
    };
  } finally {
    await Promise.all(lans.map((l) => l.destroy()));
  }
}
