/**
 * The read endpoints rollcall uses, with the parameters every read carries (`dc`, consistency,
 * blocking `index`/`wait`) and their answers decoded. Never `ns`: Consul CE answers it with 400.
 * @module
 */
import type { Member } from '../../registry.js';
import type { ConsulClient, Lane } from './client.js';
import { goDuration } from './client.js';
import {
  type CheckState,
  type DecodedHealth,
  decodeCatalogServices,
  decodeChecks,
  decodeHealth,
  decodeMembers,
  type InstanceCache,
  ShapeError,
} from './decode.js';
import { shapeError } from './errors.js';
import { AGGREGATE_FACTOR, type ConsulSettings } from './settings.js';

export interface ReadOptions {
  signal?: AbortSignal | undefined;
  /** @default 'request' */
  lane?: Lane;
  /** With `wait`: block until the index moves past this one. */
  index?: number;
  /** Milliseconds to block; a blocking read must return `X-Consul-Index`. */
  wait?: number;
}

export interface Indexed<T> {
  readonly data: T;
  /** `X-Consul-Index`, 0 when a non-blocking read did not send one. */
  readonly index: number;
}

export class ConsulReader {
  constructor(
    readonly client: ConsulClient,
    readonly settings: ConsulSettings,
  ) {}

  /**
   * Instances of one service that are passing (or not critical, with `includeWarning`); `previous`
   * is the last answer's instance cache, so unchanged entries are not decoded again.
   */
  health(name: string, options: ReadOptions = {}, previous?: InstanceCache): Promise<Indexed<DecodedHealth>> {
    const passing = this.settings.includeWarning ? undefined : true;
    return this.#read(
      `/v1/health/service/${encodeURIComponent(name)}`,
      { passing },
      options,
      (body) => decodeHealth(name, body, this.settings.includeWarning, previous),
      this.settings.maxResponseBytes,
    );
  }

  /** Every service name with the union of its instances' tags. */
  catalog(options: ReadOptions = {}): Promise<Indexed<Map<string, readonly string[]>>> {
    return this.#read('/v1/catalog/services', {}, options, decodeCatalogServices, this.settings.maxResponseBytes);
  }

  /** Every check in the datacenter: what aggregate mode diffs to find services whose health changed. */
  checks(options: ReadOptions = {}): Promise<Indexed<CheckState[]>> {
    return this.#read('/v1/health/state/any', {}, options, decodeChecks, this.settings.maxResponseBytes * AGGREGATE_FACTOR);
  }

  async members(signal: AbortSignal | undefined): Promise<Member[]> {
    // Agent-local: LAN members as this agent's serf sees them; `dc` does not apply.
    const reply = await this.client.json('/v1/agent/members', {
      signal,
      what: 'GET /v1/agent/members',
      maxBytes: this.settings.maxResponseBytes,
    });
    try {
      return decodeMembers(reply.data);
    } catch (error) {
      throw shapeError('GET /v1/agent/members', this.client.label(reply.agent), (error as Error).message);
    }
  }

  async #read<T>(
    path: string,
    extra: Record<string, true | undefined>,
    options: ReadOptions,
    decode: (body: unknown) => T,
    maxBytes: number,
  ): Promise<Indexed<T>> {
    const blocking = options.wait !== undefined;
    const what = `GET ${path}`;
    const reply = await this.client.json(path, {
      what,
      signal: options.signal,
      maxBytes,
      lane: options.lane ?? 'request',
      ...(blocking ? { wait: options.wait } : {}),
      query: {
        ...extra,
        dc: this.settings.datacenter,
        stale: this.settings.consistency === 'stale' ? true : undefined,
        consistent: this.settings.consistency === 'consistent' ? true : undefined,
        index: blocking ? options.index : undefined,
        wait: blocking ? goDuration(options.wait as number) : undefined,
      },
    });
    const agent = this.client.label(reply.agent);
    if (blocking && reply.index === undefined) throw shapeError(what, agent, 'a blocking query answered without X-Consul-Index');
    try {
      return { data: decode(reply.data), index: reply.index ?? 0 };
    } catch (error) {
      if (error instanceof ShapeError) throw shapeError(what, agent, error.message);
      throw error;
    }
  }
}
