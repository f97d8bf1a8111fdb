/**
 * Consul's answers as rollcall services. Lenient where Consul grows (unknown fields are ignored,
 * new Consul versions add PeerName, Locality, ...), strict where a wrong shape would mean a wrong
 * answer: a body that is not the promised array or object is a `BAD_RESPONSE`, and an entry that
 * cannot be a node is dropped and counted, never guessed at.
 * @module
 */

import { joinKey } from '../../internal/keys.js';
import type { Member, Node, Service } from '../../registry.js';
import { joinHostPort, normalizeService, type SizeLimits, withNodes } from '../../service.js';
import { OWNER_META_KEY } from './register.js';
import { decodeServiceMetadata, decodeTags } from './tags.js';

/** The node metadata key that carries Consul health when warning nodes are included. */
export const HEALTH_METADATA_KEY = 'consul.health';

/**
 * What we accept from others. Our own registrations fit the portable limits; a Go service may
 * carry more metadata than that, and refusing to read it would only hide it.
 */
const remoteLimits: SizeLimits = Object.freeze({
  label: 'consul (read)',
  maxMetadataEntries: 1_024,
  maxMetadataKeyBytes: 1_024,
  maxMetadataValueBytes: 64 * 1024,
  maxEndpoints: 4_096,
  maxNodes: 1,
  maxNodeEncodedBytes: 4 << 20,
});

export class ShapeError extends Error {}

export interface DecodedHealth {
  /** One entry per live version, nodes sorted by id. */
  readonly services: Service[];
  /** Entries that could not be read (and codec tags that did not decode). */
  readonly dropped: number;
  /** Consul nodes the service has instances on (aggregate mode re-reads on their node checks). */
  readonly consulNodes: ReadonlySet<string>;
  /** Decoded instances by raw identity: pass to the next decode of the same service. */
  readonly instances: InstanceCache;
}

/**
 * Instances decoded from an earlier answer, keyed by what identifies an entry's content (Consul
 * node and address, service ID, the service's ModifyIndex, health). Every wake-up returns the
 * whole instance list; decoding only the entries that changed keeps a service with many instances
 * cheap to follow.
 */
export type InstanceCache = ReadonlyMap<string, Instance>;

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string => (typeof x === 'string' ? x : '');
const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

export interface Instance {
  service: Service;
  node: Node;
  /** Consul's ModifyIndex: the most recent registration describes the version and wins a duplicate id. */
  modified: number;
  consulNode: string;
}

/**
 * `/v1/health/service/:name` -> one Service per version. A node must pass every check (or, with
 * `includeWarning`, have none critical). The same service ID on two Consul nodes (a registration
 * that failed over to another agent while the old one is not yet reaped) is one node: the most
 * recently modified entry wins.
 */
export function decodeHealth(name: string, body: unknown, includeWarning: boolean, previous?: InstanceCache): DecodedHealth {
  if (!Array.isArray(body)) throw new ShapeError(`expected an array of health entries, got ${kindOf(body)}`);
  let dropped = 0;
  const byId = new Map<string, Instance>();
  const consulNodes = new Set<string>();
  const instances = new Map<string, Instance>();
  for (const entry of body) {
    const key = cacheKey(entry, includeWarning);
    let instance = key === undefined ? undefined : previous?.get(key);
    if (!instance) {
      const decoded = decodeEntry(name, entry, includeWarning);
      if (decoded === 'skip') continue;
      if (decoded === undefined) {
        dropped++;
        continue;
      }
      dropped += decoded.dropped;
      instance = decoded.instance;
    }
    if (key !== undefined) instances.set(key, instance);
    consulNodes.add(instance.consulNode);
    const seen = byId.get(instance.node.id);
    if (!seen || instance.modified > seen.modified) byId.set(instance.node.id, instance);
  }
  const versions = new Map<string, Instance[]>();
  for (const instance of byId.values()) {
    const list = versions.get(instance.service.version);
    if (list) list.push(instance);
    else versions.set(instance.service.version, [instance]);
  }
  const services: Service[] = [];
  for (const list of versions.values()) {
    const newest = list.reduce((a, b) => (b.modified > a.modified ? b : a));
    services.push(
      withNodes(
        newest.service,
        list.map((i) => i.node),
      ),
    );
  }
  return { services, dropped, consulNodes, instances };
}

/** Identity of an entry's content, or undefined when it cannot be told (no ModifyIndex): then it is decoded every time. */
function cacheKey(entry: unknown, includeWarning: boolean): string | undefined {
  if (!isObject(entry) || !isObject(entry.Service) || !isObject(entry.Node)) return undefined;
  const modified = entry.Service.ModifyIndex;
  if (typeof modified !== 'number' || modified <= 0) return undefined;
  const health = entryHealth(entry.Checks);
  // Only passing entries are cached: the others are skipped or dropped, which costs nothing.
  if (health !== 'passing' && !(includeWarning && health === 'warning')) return undefined;
  return joinKey(str(entry.Node.Node), str(entry.Node.Address), str(entry.Service.ID), String(modified), health);
}

function decodeEntry(name: string, entry: unknown, includeWarning: boolean): { instance: Instance; dropped: number } | 'skip' | undefined {
  if (!isObject(entry) || !isObject(entry.Service)) return undefined;
  const svc = entry.Service;
  const consulNode = isObject(entry.Node) ? entry.Node : {};
  // Someone else's answer for another name (a proxy mixing responses) is not ours to show.
  if (str(svc.Service) !== name) return undefined;
  const health = entryHealth(entry.Checks);
  if (health === undefined) return undefined;
  if (health === 'critical' || (health === 'warning' && !includeWarning)) return 'skip';

  const tags = Array.isArray(svc.Tags) ? svc.Tags.filter((t): t is string => typeof t === 'string') : [];
  const decoded = decodeTags(tags);
  const own = decodeServiceMetadata(tags);
  // Go Micro keeps node metadata in tags; a service registered by other tools has only Meta.
  const hasMetadataTags = tags.some((t) => t.startsWith('t-') || t.startsWith('t='));
  const metadata: Record<string, string> = hasMetadataTags ? decoded.metadata : stringRecord(svc.Meta);
  // Our own node without metadata has no `t-` tags; its owner id is bookkeeping, not metadata.
  if (!hasMetadataTags) delete metadata[OWNER_META_KEY];
  if (includeWarning) metadata[HEALTH_METADATA_KEY] = health;
  const host = str(svc.Address) || str(consulNode.Address);
  const port = svc.Port;
  if (!host || typeof port !== 'number') return undefined;
  try {
    const service = normalizeService(
      {
        name,
        version: decoded.version ?? '',
        metadata: own.metadata,
        endpoints: decoded.endpoints,
        nodes: [{ id: str(svc.ID) || name, address: joinHostPort(host, port), metadata }],
      },
      { limits: remoteLimits, adapter: 'consul', requireNodes: true },
    );
    return {
      instance: { service, node: service.nodes[0] as Node, modified: num(svc.ModifyIndex), consulNode: str(consulNode.Node) },
      dropped: decoded.dropped + own.dropped,
    };
  } catch {
    return undefined;
  }
}

/** The worst status of the entry's checks; `undefined` when the checks are not a list. */
function entryHealth(checks: unknown): 'passing' | 'warning' | 'critical' | undefined {
  if (checks === undefined || checks === null) return 'passing';
  if (!Array.isArray(checks)) return undefined;
  let worst: 'passing' | 'warning' | 'critical' = 'passing';
  for (const check of checks) {
    const status = isObject(check) ? check.Status : undefined;
    if (status === 'passing') continue;
    // Maintenance mode is a critical check; an unknown status is not a reason to send traffic.
    if (status === 'warning') worst = worst === 'critical' ? worst : 'warning';
    else worst = 'critical';
  }
  return worst;
}

function stringRecord(x: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(x)) return out;
  for (const [k, v] of Object.entries(x)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** `/v1/catalog/services` -> name -> tags (every instance's tags, merged by Consul). */
export function decodeCatalogServices(body: unknown): Map<string, readonly string[]> {
  if (!isObject(body)) throw new ShapeError(`expected an object of service names, got ${kindOf(body)}`);
  const out = new Map<string, readonly string[]>();
  for (const [name, tags] of Object.entries(body)) {
    if (name.length === 0) continue;
    out.set(name, Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string').sort() : []);
  }
  return out;
}

/** One check of `/v1/health/state/any`, reduced to what tells a service's health apart. */
export interface CheckState {
  readonly node: string;
  readonly checkId: string;
  readonly status: string;
  /** Empty for node-level checks (serfHealth, maintenance). */
  readonly serviceName: string;
  readonly serviceId: string;
}

export function decodeChecks(body: unknown): CheckState[] {
  if (!Array.isArray(body)) throw new ShapeError(`expected an array of checks, got ${kindOf(body)}`);
  const out: CheckState[] = [];
  for (const c of body) {
    if (!isObject(c) || typeof c.Node !== 'string' || typeof c.CheckID !== 'string') continue;
    out.push({ node: c.Node, checkId: c.CheckID, status: str(c.Status), serviceName: str(c.ServiceName), serviceId: str(c.ServiceID) });
  }
  return out;
}

/** Serf's member status numbers (`serf.MemberStatus`). */
const serfStatus = ['none', 'alive', 'leaving', 'left', 'failed'];

/** `/v1/agent/members` -> members. */
export function decodeMembers(body: unknown): Member[] {
  if (!Array.isArray(body)) throw new ShapeError(`expected an array of members, got ${kindOf(body)}`);
  const out: Member[] = [];
  for (const m of body) {
    if (!isObject(m) || typeof m.Name !== 'string') continue;
    const status = typeof m.Status === 'number' ? (serfStatus[m.Status] ?? String(m.Status)) : str(m.Status) || 'none';
    const addr = str(m.Addr);
    out.push(
      Object.freeze({
        name: m.Name,
        address: addr ? joinHostPort(addr, num(m.Port)) : '',
        status,
        tags: Object.freeze(stringRecord(m.Tags)),
      }),
    );
  }
  return out;
}

function kindOf(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}
