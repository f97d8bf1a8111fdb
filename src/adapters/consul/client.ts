/**
 * HTTP to the Consul agents over undici keep-alive pools. Two lanes per agent share the connection
 * cap: `request` for registrations, heartbeats and lookups, `watch` for blocking queries, so a
 * registry watching as many services as it may never makes a heartbeat wait behind a query that
 * blocks for minutes.
 * @module
 */
import { isIP } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { checkServerIdentity } from 'node:tls';
import { Pool } from 'undici';
import { abortError } from '../../errors.js';
import { systemClock } from '../../internal/clock.js';
import { type CallContext, closedByAgent, deadlineError, isUnreachable, shapeError, statusError, transportError } from './errors.js';
import { Gate } from './gate.js';
import { AGGREGATE_FACTOR, type ConsulSettings } from './settings.js';

export type Lane = 'request' | 'watch';

export interface CallOptions {
  method?: 'GET' | 'PUT';
  /** `true` sends a flag without a value (`?passing`); `undefined` leaves the parameter out. */
  query?: Record<string, string | number | true | undefined>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** @default 'request' */
  lane?: Lane;
  /** Blocking query: the `wait` it asks for, in ms; the deadline grows by it plus Consul's jitter. */
  wait?: number;
  /** Send to this agent only (its origin): a registration lives on one agent. */
  agent?: string;
  what: string;
  right?: string;
  badRequest?: CallContext['badRequest'];
  /**
   * Most bytes the answer may have: what this endpoint can legitimately return. A larger answer
   * is not read further and rejects `BAD_RESPONSE`.
   * @default SMALL_ANSWER_BYTES
   */
  maxBytes?: number;
}

/** Answers that carry nothing but a short status or error text (writes, heartbeats, the leader). */
export const SMALL_ANSWER_BYTES = 64 << 10;
/** One service definition (`/v1/agent/service/:id`): a node's tags, Meta and checks, with room to spare. */
export const ONE_SERVICE_BYTES = 1 << 20;

export interface Reply {
  readonly status: number;
  readonly text: string;
  /** `X-Consul-Index`, when present and a number. */
  readonly index: number | undefined;
  /** Origin of the agent that answered. */
  readonly agent: string;
}

export interface JsonReply {
  readonly data: unknown;
  readonly index: number | undefined;
  readonly agent: string;
}

/** What the client notices about an agent beyond the answer to a call. */
export interface ClientEvents {
  /** A call to this agent got no answer (refused, reset, timed out): it is down or restarting. */
  unreachable?(origin: string): void;
  /**
   * The agent closed a connection of ours. Consul keeps idle connections open, so this is how a
   * restart looks to a registry whose calls were all idle at the time.
   */
  dropped?(origin: string): void;
}

/** An idle request connection is closed after this; blocking-query connections are never idle for long. */
const KEEP_ALIVE_MS = 30_000;

export class ConsulClient {
  readonly #settings: ConsulSettings;
  readonly #events: ClientEvents;
  readonly #pools = new Map<string, Pool>();
  /** Request-lane calls queued per agent, so the pools never queue (see gate.ts). */
  readonly #gates = new Map<string, Gate>();
  #current = 0;
  #closed = false;
  /** Requests sent, per lane: the bench's "idle requests per watch" comes from here. */
  readonly sent = { request: 0, watch: 0 };

  constructor(settings: ConsulSettings, events: ClientEvents = {}) {
    this.#settings = settings;
    this.#events = events;
  }

  /** Origin of the agent requests go to now. */
  get current(): string {
    return (this.#settings.agents[this.#current] ?? this.#settings.agents[0])?.origin as string;
  }

  get agentCount(): number {
    return this.#settings.agents.length;
  }

  label(origin: string): string {
    return this.#settings.agents.find((a) => a.origin === origin)?.label ?? origin;
  }

  /**
   * One call, any HTTP status. Without a pinned agent, an agent that cannot be reached is skipped
   * for the next one (ordinary requests try each once; a blocking query tries one and the next
   * query goes elsewhere), all within one deadline: `UNAVAILABLE` once the agents tried had the
   * request timeout to answer. Waiting for a connection behind this registry's own calls to an
   * agent that keeps answering them is not the agents' time (see gate.ts).
   */
  async send(path: string, options: CallOptions): Promise<Reply> {
    if (options.signal?.aborted) throw abortError(options.signal);
    const agents = this.#settings.agents;
    const budget = this.#settings.requestTimeout + (options.wait ? options.wait + options.wait / 16 : 0);
    const clock = { spent: 0 };
    const start = this.#current;
    const tries = options.agent !== undefined ? 1 : options.wait ? 1 : agents.length;
    let last: unknown;
    for (let i = 0; i < tries; i++) {
      const slot = (start + i) % agents.length;
      const origin = options.agent ?? (agents[slot]?.origin as string);
      const remaining = budget - clock.spent;
      if (remaining <= 0) break;
      try {
        const reply = await this.#once(origin, path, options, remaining, clock);
        if (options.agent === undefined) this.#current = slot;
        return reply;
      } catch (error) {
        if (options.signal?.aborted) throw abortError(options.signal);
        last = error;
        if (!isUnreachable(error)) throw error;
        this.#events.unreachable?.(origin);
        // Everyone moves on from an agent that did not answer, so loops converge on one that does.
        if (agents[this.#current]?.origin === origin) this.#current = (this.#current + 1) % agents.length;
      }
    }
    throw last ?? deadlineError(this.label(options.agent ?? this.current), options.what, budget);
  }

  /** A call that must answer 2xx with JSON. */
  async json(path: string, options: CallOptions): Promise<JsonReply> {
    const reply = await this.send(path, options);
    if (reply.status < 200 || reply.status > 299) throw this.error(reply, options);
    let data: unknown;
    try {
      data = JSON.parse(reply.text);
    } catch {
      throw shapeError(options.what, this.label(reply.agent), `the answer is not JSON (${reply.text.slice(0, 40).replace(/\s+/g, ' ')}…)`);
    }
    return { data, index: reply.index, agent: reply.agent };
  }

  /** A call that must answer 2xx; the body is ignored. */
  async ok(path: string, options: CallOptions): Promise<Reply> {
    const reply = await this.send(path, options);
    if (reply.status < 200 || reply.status > 299) throw this.error(reply, options);
    return reply;
  }

  error(reply: Reply, options: CallOptions): Error {
    const ctx: CallContext = { what: options.what, hasToken: this.#settings.token !== undefined };
    if (options.right !== undefined) ctx.right = options.right;
    if (options.badRequest !== undefined) ctx.badRequest = options.badRequest;
    return statusError(reply.status, reply.text, this.label(reply.agent), ctx, this.#settings.token);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }

  /** One try on one agent; `clock.spent` grows by the time the agent had the call. */
  async #once(origin: string, path: string, options: CallOptions, budget: number, clock: { spent: number }): Promise<Reply> {
    const lane = options.lane ?? 'request';
    let gate = lane === 'request' ? this.#gates.get(origin) : undefined;
    if (lane === 'request' && !gate)
      this.#gates.set(origin, (gate = new Gate(this.#settings.requestConnections, this.#settings.requestTimeout)));
    const queued = systemClock.now();
    // A wait the agent did not answer anything during was the agent's time after all.
    const stalled = () => {
      clock.spent += systemClock.now() - queued;
      return deadlineError(this.label(origin), options.what, budget);
    };
    const release = await gate?.acquire(options.signal, stalled);
    const began = systemClock.now();
    try {
      const reply = await this.#dispatch(origin, lane, path, options, budget);
      gate?.answered();
      return reply;
    } finally {
      release?.();
      clock.spent += systemClock.now() - began;
    }
  }

  async #dispatch(origin: string, lane: Lane, path: string, options: CallOptions, budget: number): Promise<Reply> {
    const pool = this.#pool(origin, lane);
    const controller = new AbortController();
    let timedOut = false;
    const timer = systemClock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, budget);
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = {};
    if (this.#settings.token !== undefined) headers['x-consul-token'] = this.#settings.token;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    this.sent[lane]++;
    try {
      const response = await pool.request({
        path: path + queryString(options.query),
        method: options.method ?? 'GET',
        headers,
        body,
        signal: controller.signal,
        // The deadline above decides; these only have to stay out of its way (undici's default
        // of 300 s is below Consul's 5 min wait plus jitter).
        headersTimeout: Math.ceil(budget) + 1_000,
        bodyTimeout: Math.ceil(budget) + 1_000,
      });
      const text = await readLimited(response.body, response.headers['content-length'], options.maxBytes ?? SMALL_ANSWER_BYTES);
      const raw = response.headers['x-consul-index'];
      const header = Array.isArray(raw) ? raw[0] : raw;
      const index = header !== undefined && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
      return { status: response.statusCode, text, index, agent: origin };
    } catch (error) {
      if (options.signal?.aborted) throw abortError(options.signal);
      if (timedOut) throw deadlineError(this.label(origin), options.what, budget);
      if (error instanceof AnswerTooLarge) {
        throw shapeError(
          options.what,
          this.label(origin),
          `the answer is over ${formatBytes(error.limit)}, more than this call can legitimately return (a proxy or another server on the agent's port?${options.maxBytes === this.#settings.maxResponseBytes ? ' A larger service needs a larger maxResponseBytes.' : ''})`,
        );
      }
      throw transportError(error, this.label(origin), options.what);
    } finally {
      timer?.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #pool(origin: string, lane: Lane): Pool {
    const key = `${lane} ${origin}`;
    let pool = this.#pools.get(key);
    if (pool && !pool.closed && !pool.destroyed) return pool;
    if (this.#closed) throw transportError(new Error('the registry is closed'), this.label(origin), 'request');
    const s = this.#settings;
    const tls = s.tls;
    pool = new Pool(origin, {
      connections: lane === 'request' ? s.requestConnections : s.watchConnections,
      // One request per connection at a time: a blocking query must never hold up a pipelined call.
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      // A backstop only: each call reads at most its own limit (see readLimited).
      maxResponseSize: s.maxResponseBytes * AGGREGATE_FACTOR,
      connect: {
        timeout: s.requestTimeout,
        ...(tls
          ? {
              rejectUnauthorized: tls.rejectUnauthorized,
              ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
              ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
              ...serverName(tls.servername),
            }
          : {}),
      },
    });
    pool.on('disconnect', (_url, _targets, error) => {
      if (!this.#closed && closedByAgent(error)) this.#events.dropped?.(origin);
    });
    this.#pools.set(key, pool);
    return pool;
  }
}

/**
 * The name to verify the agent's certificate against. SNI cannot carry an IP (RFC 6066, and Node
 * warns), so an IP is checked against the certificate's IP SANs without being sent.
 */
function serverName(name: string | undefined): object {
  if (name === undefined) return {};
  if (isIP(name) === 0) return { servername: name };
  return { checkServerIdentity: (_host: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(name, cert) };
}

class AnswerTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`answer over ${limit} bytes`);
  }
}

/**
 * The body as text, or AnswerTooLarge as soon as it passes `limit` (a declared length over it is
 * refused unread). Decoding chunk by chunk keeps one copy of the text, not chunks plus a copy.
 */
async function readLimited(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  length: unknown,
  limit: number,
): Promise<string> {
  const declared = typeof length === 'string' ? Number(length) : Number.NaN;
  if (declared > limit) {
    body.destroy();
    throw new AnswerTooLarge(limit);
  }
  const decoder = new StringDecoder('utf8');
  let text = '';
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new AnswerTooLarge(limit);
    }
    text += decoder.write(chunk);
  }
  return text + decoder.end();
}

export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

function queryString(query: CallOptions['query']): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    parts.push(value === true ? key : `${key}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Milliseconds as a Go duration string (`1m5s`, `1.5s`, `250ms`), the form Consul parses. */
export function goDuration(ms: number): string {
  const whole = Math.round(ms);
  if (whole < 1_000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const s = (whole % 60_000) / 1_000;
  const seconds = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${seconds}`;
}
