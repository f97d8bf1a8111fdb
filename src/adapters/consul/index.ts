/**
 * The Consul adapter: registrations are Consul agent services with a TTL check, discovery follows
 * the passing view through blocking queries, and every registration carries Go Micro's tags, so Go
 * Micro services and rollcall services discover each other through one Consul.
 *
 * ```ts
 * import { createConsulRegistry } from 'rollcall/consul';
 * const registry = createConsulRegistry({ address: ['10.0.0.2:8500', '10.0.0.3:8500'], token });
 * ```
 * @module rollcall/consul
 */
import type { CommonOptions, Node, Registry, Service } from '../../registry.js';
import { ConsulRegistry } from './registry.js';

/** TLS towards the agents. Each of `ca`, `cert` and `key` is a PEM string or the path of a PEM file. */
export interface ConsulTlsOptions {
  /**
   * The CA that signed the agents' certificates.
   * @default `CONSUL_CACERT`, else the system's trusted CAs
   */
  ca?: string;
  /**
   * Client certificate, for agents with `verify_incoming`.
   * @default `CONSUL_CLIENT_CERT`
   */
  cert?: string;
  /**
   * Key of the client certificate.
   * @default `CONSUL_CLIENT_KEY`
   */
  key?: string;
  /**
   * The name the agent's certificate must carry (SNI and verification), when the address is an
   * IP or another name.
   * @default `CONSUL_TLS_SERVER_NAME`, else the host of the address
   */
  serverName?: string;
  /**
   * Verify the agent's certificate. Turning this off accepts any server: only for experiments.
   * @default true (`CONSUL_HTTP_SSL_VERIFY=false` turns it off)
   */
  verify?: boolean;
}

/** An extra health check registered with every node, beside the TTL check rollcall keeps passing. */
export interface ConsulCheck {
  /** Consul's check name. @default `"<kind> check"` */
  name?: string;
  /** URL Consul GETs; 2xx is passing, 429 warning, anything else critical. */
  http?: string;
  /** `host:port` Consul connects to. */
  tcp?: string;
  /** Milliseconds between runs. */
  interval: number;
  /** Milliseconds before a run counts as failed. @default Consul's (10 s) */
  timeout?: number;
}

export interface ConsulOptions extends CommonOptions {
  /** Selects this adapter in `createRegistry`; ignored by {@link createConsulRegistry}. @default 'consul' */
  kind?: 'consul';
  /**
   * The Consul agents to talk to, as `host:port`, `http://host:port` or `https://host:port`; a
   * string may list several, comma separated. Requests go to the first that answers; a
   * registration lives on the agent that accepted it and moves to the next one when that agent
   * stops answering.
   * @default `CONSUL_HTTP_ADDR`, else `127.0.0.1:8500`
   */
  address?: string | readonly string[];
  /**
   * ACL token, sent as `X-Consul-Token`. Never logged and never part of an error message.
   * @default `CONSUL_HTTP_TOKEN`, else none (anonymous)
   */
  token?: string;
  /**
   * Datacenter to read from (`dc=`). Registrations always go to the agent's own datacenter.
   * @default the agent's datacenter
   */
  datacenter?: string;
  /**
   * Read consistency: `default` (the leader answers, possibly a little stale after an election),
   * `stale` (any server answers: cheapest, survives a leaderless cluster) or `consistent`
   * (the leader confirms its leadership first: slowest).
   * @default 'default'
   */
  consistency?: 'default' | 'stale' | 'consistent';
  /**
   * HTTPS towards the agents. `true` uses HTTPS with the system's CAs; an object sets the CA,
   * client certificate and server name. Addresses written with `https://` use TLS regardless.
   * @default HTTPS when `CONSUL_HTTP_SSL=true`, else plain HTTP
   */
  tls?: boolean | ConsulTlsOptions;
  /**
   * Longest an ordinary request (register, heartbeat, lookup) may take, in milliseconds, across
   * every agent tried; an agent that does not answer in time counts as unreachable (`UNAVAILABLE`).
   * Blocking queries get their `wait` plus Consul's jitter (wait / 16) on top. A call queued for a
   * connection behind this registry's own calls does not use it up while the agent keeps
   * answering those: a burst of registrations drains at the agent's pace instead of failing.
   * @default 10000
   */
  requestTimeout?: number;
  /**
   * Most HTTP connections this registry opens to one agent. Consul refuses more than 200 per
   * client address by default (`limits.http_max_conns_per_client`), counted over every process on
   * the host. Up to two are kept for registrations and lookups; the rest carry blocking queries.
   * Watching more services than that switches to aggregate queries (two connections for any
   * number of services). At least 4.
   * @default 8
   */
  maxConnections?: number;
  /**
   * How long one blocking query waits for a change, in milliseconds (Consul caps it at 10 min).
   * Longer means fewer idle requests; shorter notices a silently dead connection sooner.
   * @default 300000
   */
  wait?: number;
  /**
   * Also return nodes whose checks are `warning` (never `critical`). Every node then carries its
   * health in the metadata key `consul.health` (`"passing"` or `"warning"`), so an update event
   * tells a watcher when a node degrades. Applies to `getService`, `listServices` and watches.
   * @default false (passing nodes only, without the key)
   */
  includeWarning?: boolean;
  /**
   * Extra HTTP or TCP checks registered with every node (or a function choosing them per node).
   * A failing check takes the node out of the passing view like an expired TTL.
   * @default none
   */
  checks?: readonly ConsulCheck[] | ((service: Service, node: Node) => readonly ConsulCheck[]);
  /**
   * Largest answer, in bytes, to a read of one service's instances, of the catalog's service
   * names or of the agent's members; the list of every check in the datacenter (aggregate mode)
   * may be 4 times as large. Writes and heartbeats accept 64 KiB, one service definition 1 MiB.
   * A larger answer is not read further and rejects `BAD_RESPONSE`: it bounds what a broken
   * proxy or a hostile server on the agent's port can make this process hold. The default holds
   * about 3,000 instances of one service at 5 KiB each (a rollcall node with a few endpoints);
   * raise it for larger services.
   * @default 16777216 (16 MiB)
   */
  maxResponseBytes?: number;
}

/**
 * Creates a Consul registry. Nothing is sent until the first call: `register` rejects
 * `UNAVAILABLE` (retryable) while no agent answers, and watches wait for one.
 */
export function createConsulRegistry(options: ConsulOptions = {}): Registry {
  return new ConsulRegistry(options, process.env);
}

/** The metadata key that carries a node's health when {@link ConsulOptions.includeWarning} is on. */
export { HEALTH_METADATA_KEY } from './decode.js';

export default createConsulRegistry;
