/**
 * Registrations as Consul agent services, the way Go Micro writes them (ID = node id, Go Micro
 * tags, node metadata in `Meta`, a TTL check `service:<id>`), kept alive by passing the check.
 *
 * A registration lives on the agent that accepted it: Consul agents own their services, so
 * heartbeats and the goodbye must go to that agent. When it stops answering and other agents are
 * configured, the registration moves to the next one (`lost`, then `restored`); because nodes are
 * keyed by service ID when read, the copy left on the dead agent never shows up as a second node.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { RollcallError } from '../../errors.js';
import type { RegistrationOps } from '../../registration.js';
import type { Node, Service } from '../../registry.js';
import { splitHostPort } from '../../service.js';
import { type ConsulClient, goDuration, ONE_SERVICE_BYTES } from './client.js';
import { isUnreachable } from './errors.js';
import type { ConsulCheck } from './index.js';
import type { ConsulSettings } from './settings.js';
import { validateCheck } from './settings.js';
import { encodeServiceMetadata, encodeTags } from './tags.js';
import { isWildcardHost, WildcardAddresses } from './wildcard.js';

/** Consul reaps a critical service no sooner than a minute after the fact; Go Micro asks for ttl + 5 s, at least 1m5s. */
const MIN_DEREGISTER_AFTER_MS = 65_000;
const DEREGISTER_SLACK_MS = 5_000;

/** Consul's rules for `Meta` (structs.ValidateServiceMetadata): what does not fit stays in the tags only. */
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
const META_MAX_PAIRS = 64;
const META_MAX_VALUE = 512;

/**
 * The `Meta` key naming the registry that registered a node (a random id per registry). A
 * goodbye removes a node only while it still carries this registry's id, so a process that
 * closes after its successor re-registered the same node id leaves the successor's node alone.
 */
export const OWNER_META_KEY = 'rollcall-owner';

export function checkId(nodeId: string): string {
  return `service:${nodeId}`;
}

/**
 * Node metadata Consul accepts as `Meta`; all of it is in the `t-` tags regardless. With an
 * `owner`, one pair is kept for {@link OWNER_META_KEY}.
 */
export function consulMeta(metadata: Readonly<Record<string, string>>, owner?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const room = owner === undefined ? META_MAX_PAIRS : META_MAX_PAIRS - 1;
  let n = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (n >= room) break;
    if (key === OWNER_META_KEY) continue;
    if (!META_KEY.test(key) || key.toLowerCase().startsWith('consul-') || Buffer.byteLength(value) > META_MAX_VALUE) continue;
    out[key] = value;
    n++;
  }
  if (owner !== undefined) out[OWNER_META_KEY] = owner;
  return out;
}

export interface DefinitionOptions {
  /** Extra checks, beside the TTL check. */
  checks?: readonly ConsulCheck[];
  /** The registering registry's {@link OWNER_META_KEY}. */
  owner?: string;
  /** `Address` for a node on a wildcard host ('' = the agent's own); see wildcard.ts. */
  wildcard?: string;
}

/** The body of `PUT /v1/agent/service/register` for one node. */
export function serviceDefinition(service: Service, node: Node, ttl: number, options: DefinitionOptions = {}): object {
  const { host, port } = splitHostPort(node.address) as { host: string; port: string };
  const { checks: extra = [], owner, wildcard } = options;
  return {
    ID: node.id,
    Name: service.name,
    Address: isWildcardHost(host) && wildcard !== undefined ? wildcard : host,
    Port: Number(port),
    Meta: consulMeta(node.metadata, owner),
    Tags: [...encodeTags(service, node), ...encodeServiceMetadata(service.metadata)],
    Checks: [
      {
        CheckID: checkId(node.id),
        Name: 'rollcall heartbeat',
        Notes: `passed every ${goDuration(ttl / 3)} while the process lives`,
        TTL: goDuration(ttl),
        // Passing from the start: the registration and the first pass are then one catalog
        // change, and watchers see the node one raft write earlier.
        Status: 'passing',
        DeregisterCriticalServiceAfter: goDuration(Math.max(ttl + DEREGISTER_SLACK_MS, MIN_DEREGISTER_AFTER_MS)),
      },
      ...extra.map((c, i) => ({
        CheckID: `${checkId(node.id)}:${i + 1}`,
        Name: c.name ?? `${c.http !== undefined ? 'http' : 'tcp'} check`,
        ...(c.http !== undefined ? { HTTP: c.http } : { TCP: c.tcp }),
        Interval: goDuration(c.interval),
        ...(c.timeout !== undefined ? { Timeout: goDuration(c.timeout) } : {}),
        DeregisterCriticalServiceAfter: goDuration(Math.max(ttl + DEREGISTER_SLACK_MS, MIN_DEREGISTER_AFTER_MS)),
      })),
    ],
  };
}

/**
 * A heartbeat answer that means "this agent does not have the check": 404 "Unknown check ID"
 * (current Consul), 500 "does not have associated TTL" or "Unknown check" (1.8). The agent lost
 * its state (a restart without data, a reap after a long stall): register again.
 */
export function isLostCheck(status: number, text: string): boolean {
  return status === 404 || (status === 500 && /does not have associated TTL|Unknown check/i.test(text));
}

/** Deregistering what the agent does not have is done already (1.11+: 404; 1.8 with ACLs: 500 "Unknown service"). */
function isUnknownService(status: number, text: string): boolean {
  return status === 404 || (status === 500 && /Unknown service/i.test(text));
}

const quote = JSON.stringify;

/** A register that failed without an answer from the agent (aborted, unreachable) may still have been applied. */
function mayHaveArrived(result: PromiseSettledResult<void> | undefined): boolean {
  if (result?.status !== 'rejected') return false;
  const error = result.reason as { name?: unknown } | undefined;
  return isUnreachable(error) || error?.name === 'AbortError';
}

/** The owner id in an `/v1/agent/service/:id` answer, or undefined (another tool, an older rollcall, not JSON). */
function ownerOf(text: string): string | undefined {
  try {
    const meta = (JSON.parse(text) as { Meta?: Record<string, unknown> } | null)?.Meta;
    const owner = meta?.[OWNER_META_KEY];
    return typeof owner === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

export class Registrar {
  /** Node id -> origin of the agent holding it, for goodbyes sent by `registry.deregister()`. */
  readonly homes = new Map<string, string>();
  /** This registry's {@link OWNER_META_KEY}: random, so a restarted process is a new owner. */
  readonly owner = randomUUID();
  readonly #wildcards = new WildcardAddresses();

  constructor(
    readonly client: ConsulClient,
    readonly settings: ConsulSettings,
    /**
     * A heartbeat found that this agent lost a registration. Most often it restarted without its
     * data and lost every other one too, so those need not wait for their own beats (where it did
     * not, an early heartbeat costs one request).
     */
    readonly onLost: (origin: string) => void = () => {},
  ) {}

  /** True while a node of `service` is registered on this agent (as far as this registry knows). */
  holds(service: Service, origin: string): boolean {
    return service.nodes.some((node) => this.homes.get(node.id) === origin);
  }

  /** Registers every node (rolling back the ones that made it when one fails) and returns how to keep them. */
  async put(service: Service, ttl: number, signal: AbortSignal | undefined): Promise<RegistrationOps> {
    const homes = new Map<string, string>();
    const results = await Promise.allSettled(service.nodes.map((node) => this.#register(service, node, ttl, homes, signal)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The agent may hold the nodes it confirmed and those whose answer never came (cut short, unreachable).
      const maybe = service.nodes.filter((n, i) => homes.has(n.id) || mayHaveArrived(results[i]));
      await Promise.allSettled(maybe.map((n) => this.#goodbye(service, n, homes.get(n.id))));
      for (const n of maybe) if (homes.has(n.id) && this.homes.get(n.id) === homes.get(n.id)) this.homes.delete(n.id);
      throw failed.reason;
    }
    return {
      renew: async (current) => {
        const present = await Promise.all(current.nodes.map((node) => this.#renew(current, node, homes)));
        return present.every(Boolean);
      },
      restore: async (current) => {
        await Promise.all(current.nodes.map((node) => this.#register(current, node, ttl, homes, undefined)));
      },
      remove: async (current) => {
        await Promise.all(current.nodes.map((node) => this.#goodbye(current, node, homes.get(node.id))));
        for (const node of current.nodes) if (this.homes.get(node.id) === homes.get(node.id)) this.homes.delete(node.id);
      },
    };
  }

  /**
   * Removes nodes registered earlier or elsewhere (`registry.deregister()`), whoever registered
   * them: sent to the agent holding them, if known.
   */
  async remove(service: Service): Promise<void> {
    await Promise.all(service.nodes.map((node) => this.#deregister(service, node, this.homes.get(node.id))));
    for (const node of service.nodes) this.homes.delete(node.id);
  }

  async #register(service: Service, node: Node, ttl: number, homes: Map<string, string>, signal: AbortSignal | undefined): Promise<void> {
    const checks = typeof this.settings.checks === 'function' ? this.settings.checks(service, node) : (this.settings.checks ?? []);
    if (typeof this.settings.checks === 'function') for (const c of checks) validateCheck(c);
    const right = `service:write on ${quote(service.name)}`;
    const { host } = splitHostPort(node.address) as { host: string };
    const wildcard = isWildcardHost(host) ? await this.#wildcards.for(this.client.current) : undefined;
    const reply = await this.client.ok('/v1/agent/service/register', {
      method: 'PUT',
      // Re-registering replaces the checks too, so a check dropped from `checks` does not linger.
      query: { 'replace-existing-checks': 'true' },
      body: serviceDefinition(service, node, ttl, { checks, owner: this.owner, ...(wildcard !== undefined ? { wildcard } : {}) }),
      signal,
      what: `register ${quote(node.id)} of ${quote(service.name)}`,
      right,
      badRequest: 'INVALID_SERVICE',
    });
    homes.set(node.id, reply.agent);
    this.homes.set(node.id, reply.agent);
    // Re-registering keeps an existing check's status: pass it, or a registration restored after
    // an expiry would stay critical until the next heartbeat.
    if (!(await this.#pass(service, node, reply.agent, signal))) {
      throw new RollcallError('UNAVAILABLE', `register ${quote(node.id)}: the agent lost the check right after registering it`, {
        adapter: 'consul',
      });
    }
  }

  /** True while the agent holds the check; false when it lost it, or stopped answering and another agent may take over. */
  async #renew(service: Service, node: Node, homes: Map<string, string>): Promise<boolean> {
    const agent = homes.get(node.id) ?? this.client.current;
    try {
      const present = await this.#pass(service, node, agent, undefined);
      if (!present) this.onLost(agent);
      return present;
    } catch (error) {
      if (isUnreachable(error) && this.client.agentCount > 1) return false;
      throw error;
    }
  }

  async #pass(service: Service, node: Node, agent: string, signal: AbortSignal | undefined): Promise<boolean> {
    const options = {
      method: 'PUT' as const,
      agent,
      signal,
      what: `heartbeat of ${quote(node.id)}`,
      right: `service:write on ${quote(service.name)}`,
    };
    const reply = await this.client.send(`/v1/agent/check/pass/${encodeURIComponent(checkId(node.id))}`, options);
    if (reply.status >= 200 && reply.status < 300) return true;
    if (isLostCheck(reply.status, reply.text)) return false;
    throw this.client.error(reply, options);
  }

  /**
   * A registration's goodbye: removes the node only while the agent still has it from this
   * registry. Consul has no compare-and-delete, so a successor registering between the read and
   * the delete still loses the node; its next heartbeat (within ttl / 3) registers it again.
   */
  async #goodbye(service: Service, node: Node, agent: string | undefined): Promise<void> {
    const options = {
      ...(agent !== undefined ? { agent } : {}),
      maxBytes: ONE_SERVICE_BYTES,
      what: `GET /v1/agent/service/${node.id}`,
      right: `service:read on ${quote(service.name)}`,
    };
    const reply = await this.client.send(`/v1/agent/service/${encodeURIComponent(node.id)}`, options);
    if (reply.status === 404) return;
    if (reply.status === 200 && ownerOf(reply.text) !== this.owner) return;
    // Any other answer (an agent without the endpoint, a proxy in the way) cannot tell: say goodbye as before.
    await this.#deregister(service, node, reply.agent);
  }

  async #deregister(service: Service, node: Node, agent: string | undefined): Promise<void> {
    const options = {
      method: 'PUT' as const,
      ...(agent !== undefined ? { agent } : {}),
      what: `deregister ${quote(node.id)}`,
      right: `service:write on ${quote(service.name)}`,
    };
    const reply = await this.client.send(`/v1/agent/service/deregister/${encodeURIComponent(node.id)}`, options);
    if ((reply.status >= 200 && reply.status < 300) || isUnknownService(reply.status, reply.text)) return;
    throw this.client.error(reply, options);
  }
}
