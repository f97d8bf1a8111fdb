/**
 * The browser: continuous queries for what watchers and lookups want, a cache of every answer
 * heard (asked for or not), and the nodes assembled from it (SRV + TXT + addresses) fed to the
 * view that watchers and getService read. Watch events are cache changes: a new or changed TXT,
 * a goodbye after its grace second, a TTL running out.
 * @module
 */
import { abortError, throwIfAborted } from '../../errors.js';
import { clampDelay, systemClock, type Timer } from '../../internal/clock.js';
import type { Service } from '../../registry.js';
import type { ServiceView } from '../../view.js';
import type { WatchInterest } from '../../watcher.js';
import type { Arrival } from './answers.js';
import { Assembler } from './assembler.js';
import { type CachedRecord, lastRefresh, RecordCache } from './cache.js';
import type { Codec } from './codec.js';
import { HeardQuestions } from './heard-questions.js';
import { Interest } from './interest.js';
import { foldName } from './names.js';
import type { Message, Question, Rr, RrType, SrvData } from './packet.js';
import type { Target } from './prober.js';
import { Resolver } from './resolver.js';

export interface BrowserHost {
  codec: Codec;
  view: ServiceView;
  /**
   * Sends a query (known answers attached): multicast from port 5353, or from an ephemeral port
   * when `legacy` (and always for Go Micro, whose servers answer the querier's port).
   */
  query(questions: readonly Question[], knownAnswers: readonly Rr[], legacy: boolean): void;
  /** Whether another socket shares port 5353 here (then unicast answers might not reach us). */
  portShared(): boolean;
  /** Every interface and family queries go out on (a peer's question stands in for ours only once heard on each). */
  targets(): readonly Target[];
  noteDrop(reason: string, source?: string): void;
  /** Our own live PTRs under a browse name (the registry's own nodes never enter the cache). */
  ownPointers(fname: string): readonly Rr[];
  now(): number;
  ipv6: boolean;
  maxRecords: number;
  lookupTimeout: number;
  maxQueryInterval: number;
}

/** A lookup keeps its service queried (and its records refreshed) this long after the last use. */
const LOOKUP_LINGER_MS = 60_000;

/** Adds an instance to a packet's touched list once (a packet names a handful). */
function touch(touched: string[], fname: string): void {
  if (!touched.includes(fname)) touched.push(fname);
}

export class Browser {
  readonly #h: BrowserHost;
  readonly cache: RecordCache;
  readonly #resolver: Resolver;
  readonly #interests = new Map<string, Interest>();
  readonly #assembler: Assembler;
  readonly #waiters = new Set<() => void>();
  #timer: Timer | undefined;
  /** When #timer fires (infinite when none is set). */
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;
  queryRounds = 0;
  /** Queries of ours not sent because a peer had just asked the same (RFC 6762 §7.3), one per question. */
  queriesSuppressed = 0;
  readonly #heard: HeardQuestions;

  constructor(host: BrowserHost) {
    this.#h = host;
    this.cache = new RecordCache({
      maxRecords: host.maxRecords,
      now: host.now,
      events: {
        expired: (fname, type) => this.#expired(fname, type),
        refresh: (record) => this.#refresh(record),
        wanted: (fname, type) => this.#wantedRecord(fname, type),
      },
    });
    this.#resolver = new Resolver((questions, legacy) => this.#query(questions, [], legacy), host.now);
    this.#assembler = new Assembler({ codec: host.codec, view: host.view, cache: this.cache, noteDrop: host.noteDrop });
    this.#heard = new HeardQuestions({
      codec: host.codec,
      targets: host.targets,
      now: host.now,
      knownAnswers: (fname, now) => this.#knownAnswers(fname, now),
      browsed: (fname) => this.#interests.has(fname),
    });
  }

  // --- Interests ---

  #key(service: string | undefined): string {
    return foldName(service === undefined ? this.#h.codec.browseAll : this.#h.codec.browseName(service));
  }

  #acquire(service: string | undefined, immediate: boolean): Interest {
    const fname = this.#key(service);
    let interest = this.#interests.get(fname);
    if (!interest) {
      const now = this.#h.now();
      const browse = service === undefined ? this.#h.codec.browseAll : this.#h.codec.browseName(service);
      // A lookup asks at once (RFC 6762 §5.1); continuous querying starts after 20-120 ms (§5.2).
      interest = new Interest(fname, browse, service, immediate ? now : now + 20 + Math.random() * 100);
      interest.oneShot = immediate;
      this.#interests.set(fname, interest);
      // A storm of lookups must not walk every interest for each one: only an earlier query moves the timer.
      if (interest.nextAt < this.#timerAt) this.#schedule();
    }
    interest.lingerTimer?.cancel();
    interest.lingerTimer = undefined;
    interest.refs++;
    return interest;
  }

  #release(interest: Interest, lingerMs = 0): void {
    interest.refs--;
    if (interest.refs > 0) return;
    if (lingerMs > 0) {
      interest.lingerTimer = systemClock.setTimeout(() => {
        interest.lingerTimer = undefined;
        if (interest.refs === 0) this.#end(interest);
      }, lingerMs);
      return;
    }
    this.#end(interest);
  }

  #end(interest: Interest): void {
    if (this.#interests.get(interest.fname) === interest) this.#interests.delete(interest.fname);
    for (const child of interest.children) this.#release(child);
    interest.children.clear();
    interest.stop();
  }

  /** The watch hook: continuous querying for one service (or all) while the watcher lives. */
  interest(service: string | undefined): WatchInterest {
    const interest = this.#acquire(service, false);
    let released = false;
    return {
      ready: interest.readyDeep(),
      release: () => {
        if (released) return;
        released = true;
        this.#release(interest);
      },
    };
  }

  /** Records in the cache (for stats). */
  get cachedRecords(): number {
    return this.cache.size;
  }

  /** Whether the cache speaks for `name` with authority: its query (or the all-services one) has been answered. */
  isWarm(name: string): boolean {
    if (this.#interests.get(this.#key(name))?.warm) return true;
    // Browsing the service type lists every instance in DNS-SD; Go Micro's listing names services only.
    return this.#h.codec.profile === 'dns-sd' && this.#interests.get(this.#key(undefined))?.warm === true;
  }

  /** A cold lookup: asks now and waits for the response window (or the lookup timeout) to close. */
  async lookup(name: string, signal: AbortSignal): Promise<readonly Service[]> {
    const interest = this.#acquire(name, true);
    try {
      await this.#until(() => interest.warm && this.#h.view.get(name).length > 0, signal, interest);
    } finally {
      this.#release(interest, LOOKUP_LINGER_MS);
    }
    return this.#h.view.get(name);
  }

  /** listServices: the all-services browse, warm once answered. */
  async list(signal: AbortSignal): Promise<Service[]> {
    const interest = this.#acquire(undefined, true);
    try {
      if (!interest.warm) await Promise.race([interest.readyDeep(), this.#until(() => false, signal, interest)]);
      throwIfAborted(signal);
    } finally {
      this.#release(interest, LOOKUP_LINGER_MS);
    }
    return this.#h.view.list();
  }

  /** Waits until `done()` holds, the lookup timeout passes, or `signal` aborts. */
  #until(done: () => boolean, signal: AbortSignal, interest: Interest): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const finish = () => {
        timer?.cancel();
        this.#waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
      };
      const check = () => {
        if (!done()) return;
        finish();
        resolve();
      };
      const onAbort = () => {
        finish();
        reject(abortError(signal));
      };
      const timer = systemClock.setTimeout(() => {
        finish();
        resolve();
      }, clampDelay(this.#h.lookupTimeout));
      this.#waiters.add(check);
      void interest.ready.then(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** An interface came up: query everything again soon (RFC 6762 §8.3 / §5.2). */
  resetBackoff(): void {
    const now = this.#h.now();
    for (const interest of this.#interests.values()) interest.reset(now);
    this.#schedule();
  }

  // --- Querying ---

  #schedule(): void {
    if (this.#closed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const i of this.#interests.values()) next = Math.min(next, i.nextAt);
    this.#timer?.cancel();
    this.#timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = systemClock.setTimeout(() => this.#tick(), clampDelay(next - this.#h.now()));
  }

  #tick(): void {
    const now = this.#h.now();
    const due = [...this.#interests.values()].filter((i) => i.nextAt <= now + 5);
    if (due.length > 0) {
      const shared = this.#h.portShared();
      // RFC 6762 §5.4: a first query asks for unicast answers, which a responder gives even for records it
      // multicast less than a second ago; only when no other socket on this host shares port 5353.
      const qu = (i: Interest) => i.sentCount === 0 && !shared;
      // RFC 6762 §7.3: a question a peer has just asked for us counts as sent (never a QU one: no peer's stands in for it).
      const asking: Interest[] = [];
      const stoodIn: [Interest, number][] = [];
      for (const i of due) {
        const heardAt = qu(i) ? undefined : this.#heard.standIn(i, now);
        if (heardAt === undefined) asking.push(i);
        else stoodIn.push([i, heardAt]);
      }
      this.queriesSuppressed += stoodIn.length;
      if (asking.length > 0) {
        const questions: Question[] = asking.map((i) => ({ name: i.browse, type: 'PTR', qu: qu(i) }));
        const known = asking.flatMap((i) => this.#knownAnswers(i.fname, now));
        this.queryRounds++;
        this.#query(questions, known, false);
      }
      // A lookup that waits now and cannot ask for unicast on 5353 also asks once as a legacy querier (§5.1, §6.7).
      const oneShots = due.filter((i) => i.sentCount === 0 && i.oneShot && shared);
      if (oneShots.length > 0)
        this.#h.query(
          oneShots.map((i) => ({ name: i.browse, type: 'PTR', qu: false })),
          [],
          true,
        );
      for (const i of asking) i.sent(now, this.#h.maxQueryInterval);
      for (const [i, heardAt] of stoodIn) i.stoodIn(now, heardAt, this.#h.maxQueryInterval);
    }
    this.#schedule();
  }

  /** Sends a query, remembering its packets (as the sender packs them) so a copy heard back is known for ours. */
  #query(questions: readonly Question[], known: readonly Rr[], legacy: boolean): void {
    this.#h.query(questions, known, legacy);
    this.#heard.sent(questions, known);
  }

  /**
   * Known answers for a browse name: our own PTRs, and PTRs we hold with more than half their
   * TTL left for instances we know fully.
   */
  #knownAnswers(fname: string, now: number): Rr[] {
    const own = this.#h.ownPointers(fname);
    const heard = this.cache.knownAnswers(fname, 'PTR', (r) => this.#assembler.has(foldName(r.rr.data as string)), now);
    if (own.length === 0) return heard;
    const mine = new Set(own.map((r) => foldName(r.data as string)));
    return [...own, ...heard.filter((r) => !mine.has(foldName(r.data as string)))];
  }

  /** A query heard from anyone: it may stand in for one of ours (RFC 6762 §7.3, see heard-questions.ts). */
  onQuery(message: Message, arrival: Arrival): void {
    if (this.#closed) return;
    const fnames = this.#heard.onQuery(message, arrival);
    if (!fnames) return;
    const now = this.#h.now();
    for (const fname of fnames) this.#interests.get(fname)?.askedTogether(now);
  }

  /** Whether someone currently wants records of this service refreshed. */
  #wanted(service: string | undefined): boolean {
    if (service !== undefined && this.#interests.get(this.#key(service))?.active) return true;
    return this.#interests.get(this.#key(undefined))?.active === true && (service === undefined || this.#h.codec.profile === 'dns-sd');
  }

  /**
   * Whether a watch or lookup asks for this record now: a PTR under a name queried, an instance's
   * SRV or TXT that such a PTR points at, a host's address that such an instance's SRV names.
   */
  #wantedRecord(fname: string, type: RrType): boolean {
    if (type === 'PTR') return this.#interests.get(fname)?.active === true;
    if (type === 'SRV' || type === 'TXT') return this.#wantedInstance(fname);
    for (const inst of this.#assembler.usersOf(fname) ?? []) if (this.#wantedInstance(inst)) return true;
    return false;
  }

  #wantedInstance(fname: string): boolean {
    for (const interest of this.#interests.values()) {
      if (interest.active && this.cache.points(interest.fname, fname)) return true;
    }
    return false;
  }

  #refresh(record: CachedRecord): void {
    const { fname, rr } = record;
    let wanted = false;
    if (rr.type === 'PTR') wanted = this.#interests.get(fname)?.active === true;
    else if (rr.type === 'SRV' || rr.type === 'TXT') wanted = this.#wanted(this.#assembler.serviceName(fname));
    else for (const inst of this.#assembler.usersOf(fname) ?? []) wanted ||= this.#wanted(this.#assembler.serviceName(inst));
    if (!wanted) return;
    // A unique record's refresh asks for a unicast answer (RFC 6762 §5.4) when nothing else listens on our port:
    // the responder may then answer though it multicast the record less than a second ago.
    const unique = rr.type !== 'PTR';
    this.#resolver.ask({ name: rr.name, type: rr.type, qu: unique && !this.#h.portShared() }, unique && lastRefresh(record));
  }

  // --- Receiving ---

  /**
   * Takes in a response heard on `iface`. Synchronous: the view (and watchers) change before it returns.
   * Indexed loops and an array for the touched instances: this runs a few times a second at most,
   * so mostly unoptimized, where every for-of allocates an iterator and a result per step.
   */
  onResponse(message: Message, iface: string, source: string): void {
    const now = this.#h.now();
    const touched: string[] = [];
    const { answers, additionals } = message;
    // Names first, then addresses: an address record matters only to instances whose SRV names its host.
    for (let i = 0; i < answers.length; i++) this.#takeRecord(answers[i] as Rr, iface, source, now, touched);
    for (let i = 0; i < additionals.length; i++) this.#takeRecord(additionals[i] as Rr, iface, source, now, touched);
    for (let i = 0; i < answers.length; i++) this.#takeAddress(answers[i] as Rr, iface, source, now, touched);
    for (let i = 0; i < additionals.length; i++) this.#takeAddress(additionals[i] as Rr, iface, source, now, touched);
    for (let i = 0; i < touched.length; i++) this.#assemble(touched[i] as string);
    if (this.#waiters.size > 0) for (const waiter of [...this.#waiters]) waiter();
  }

  /** Caches a PTR, SRV or TXT of this profile and notes the instance it concerns. */
  #takeRecord(rr: Rr, iface: string, source: string, now: number, touched: string[]): void {
    const type = rr.type;
    if (type === 'A' || type === 'AAAA') return;
    const codec = this.#h.codec;
    const fname = rr.fname ?? foldName(rr.name);
    if (type === 'PTR' ? !codec.isBrowseName(fname) : !codec.isInstance(fname)) return;
    const result = this.cache.add(rr, iface, now, source);
    if (result === 'ignored') return;
    if (result === 'full') {
      this.#h.noteDrop('record cache full', source);
      return;
    }
    if (type === 'PTR') {
      const target = foldName(rr.data as string);
      if (codec.isInstance(target) && !this.#assembler.has(target)) touch(touched, target);
      const listed = codec.listedService(rr.name, rr.data as string);
      if (listed !== undefined && rr.ttl > 0) this.#adopt(listed);
    } else {
      // Every announcement is repeated, and every heartbeat renews: the same lone record again changes no node we hold.
      if (result === 'renewed' && this.#assembler.has(fname) && this.cache.isSole(fname, type)) return;
      touch(touched, fname);
      if (type === 'SRV') this.#assembler.ref(foldName((rr.data as SrvData).target), fname);
    }
  }

  /** Caches an address record some known instance's SRV points at; news of it touches those instances. */
  #takeAddress(rr: Rr, iface: string, source: string, now: number, touched: string[]): void {
    if (rr.type !== 'A' && rr.type !== 'AAAA') return;
    const users = this.#assembler.usersOf(rr.fname ?? foldName(rr.name));
    if (!users) return;
    const result = this.cache.add(rr, iface, now, source);
    if (result === 'full') this.#h.noteDrop('record cache full', source);
    // A renewal changes no node, and one host's address record is shared by all its nodes: only news counts.
    else if (result === 'new' || result === 'revived') for (const inst of users) touch(touched, inst);
  }

  /** Go Micro's listing named a service: while someone browses everything, query that service too. */
  #adopt(service: string): void {
    const all = this.#interests.get(this.#key(undefined));
    if (!all || [...all.children].some((c) => c.service === service)) return;
    all.children.add(this.#acquire(service, true));
  }

  #expired(fname: string, type: RrType): void {
    if (type === 'SRV' || type === 'TXT') this.#assemble(fname);
    else if (type === 'A' || type === 'AAAA') for (const inst of [...(this.#assembler.usersOf(fname) ?? [])]) this.#assemble(inst);
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Rebuilds one instance's node and, when something is missing, asks for it if anyone browses it. */
  #assemble(fname: string): void {
    const result = this.#assembler.assemble(fname);
    if (result.complete) this.#resolver.done(fname);
    else if (result.missingRecords && this.#browsed(fname))
      this.#resolver.resolveInstance(result.name, result.missingRecords.srv, result.missingRecords.txt);
    else if (result.missingHost && this.#browsed(fname)) this.#resolver.resolveHost(result.missingHost, this.#h.ipv6);
  }

  /** Whether someone browses the service an instance belongs to (so resolving it is worth a query). */
  #browsed(fname: string): boolean {
    for (const interest of this.#interests.values()) {
      if (this.cache.get(interest.fname, 'PTR').some((r) => foldName(r.rr.data as string) === fname)) return true;
    }
    return false;
  }

  get instances(): number {
    return this.#assembler.size;
  }

  /** One of the registry's own nodes is live (announced, or updated): see Assembler.putLocal. */
  localLive(id: string, service: Service): void {
    if (!this.#closed) this.#assembler.putLocal(id, service);
  }

  localGone(id: string): void {
    if (!this.#closed) this.#assembler.removeLocal(id);
  }

  get interests(): number {
    return this.#interests.size;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    for (const interest of this.#interests.values()) interest.stop();
    this.#interests.clear();
    this.#resolver.close();
    this.cache.clear();
  }
}
