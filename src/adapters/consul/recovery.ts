/**
 * Agent restarts, acted on as soon as they are over. An agent that comes back without its data
 * (dev mode, a lost disk, a new container) has forgotten every registration it held. Heartbeats
 * find that out at their next beat, up to ttl/3 later, and that delay is only a worst case: here,
 * the moment the agent answers again with a leader, every registration homed on it is
 * heartbeated at once (and registered again where it was lost).
 *
 * An agent becomes a suspect when a call to it gets no answer, or when it closes one of our
 * connections. Consul never closes idle connections on its own, so a closed one means a stopping
 * agent even when every call of ours was idle at the time. A suspect that holds registrations of
 * ours is asked `/v1/status/leader` on a short backoff until it names a leader. A suspicion that
 * the first probe contradicts (the agent closed a connection but answers with a leader at once)
 * changes nothing.
 * @module
 */

import { lifetimeController } from '../../internal/abort.js';
import { delay } from '../../time.js';
import type { ConsulClient } from './client.js';

/**
 * Gaps between probes: they double from the first up to the last. The last one is the longest a
 * recovery can wait after the leader is back, so it stays a small part of the ttl/3 + 1 s that
 * a restored registration is allowed. Cost: at most 4 small requests a second, and only while the
 * agent is unreachable and holds registrations of ours.
 */
const FIRST_GAP_MS = 50;
const LAST_GAP_MS = 250;

export interface RecoveryHost {
  /** True while a live registration of ours is homed on this agent. */
  holds(origin: string): boolean;
  /** The agent answers again and has a leader: heartbeat what is homed there now. */
  back(origin: string): void;
}

interface Suspect {
  /** A call went unanswered: the agent was away, not just one connection. */
  away: boolean;
}

export class AgentRecovery {
  readonly #client: ConsulClient;
  readonly #host: RecoveryHost;
  readonly #controller = lifetimeController();
  readonly #suspects = new Map<string, Suspect>();

  constructor(client: ConsulClient, host: RecoveryHost) {
    this.#client = client;
    this.#host = host;
  }

  /** Agents being probed now. */
  get probing(): number {
    return this.#suspects.size;
  }

  /** `away`: a call to the agent got no answer; otherwise it only closed a connection. */
  suspect(origin: string, away: boolean): void {
    if (this.#controller.signal.aborted) return;
    const known = this.#suspects.get(origin);
    if (known) {
      known.away ||= away;
      return;
    }
    if (!this.#host.holds(origin)) return;
    const suspect: Suspect = { away };
    this.#suspects.set(origin, suspect);
    void this.#follow(origin, suspect).finally(() => this.#suspects.delete(origin));
  }

  close(): void {
    this.#controller.abort();
  }

  async #follow(origin: string, suspect: Suspect): Promise<void> {
    const signal = this.#controller.signal;
    for (let gap = 0; ; gap = Math.min(LAST_GAP_MS, Math.max(FIRST_GAP_MS, gap * 2))) {
      if (gap > 0) await delay(gap, signal).catch(() => {});
      // Registrations that moved to another agent, or ended, no longer need this one.
      if (signal.aborted || !this.#host.holds(origin)) return;
      if (await this.#hasLeader(origin, signal)) {
        if (suspect.away && !signal.aborted) this.#host.back(origin);
        return;
      }
      suspect.away = true;
    }
  }

  /**
   * Registering before the agent has a leader would not fail: Consul holds the catalog write
   * (up to 7 s, retrying at random up to 437 ms apart) until one is elected. Waiting for the
   * leader here keeps that wait off the request connections the heartbeats need.
   */
  async #hasLeader(origin: string, signal: AbortSignal): Promise<boolean> {
    try {
      const reply = await this.#client.send('/v1/status/leader', { agent: origin, signal, what: 'GET /v1/status/leader' });
      return reply.status === 200 && /^"[^"]+"$/.test(reply.text.trim());
    } catch {
      return false;
    }
  }
}
