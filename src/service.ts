/**
 * Validation, normalisation and comparison of services, shared by every adapter so that "what is a
 * valid service" and "what fits" are decided in one place, before anything is stored or sent.
 *
 * Normalised services are canonical (metadata keys sorted, nodes sorted by id) and deeply frozen:
 * equal content means equal JSON, and callers can share them without copying.
 * @module
 */

import { randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { RollcallError } from './errors.js';
import { joinHostPort, splitHostPort } from './internal/host-port.js';
import { joinKey } from './internal/keys.js';
import { isPlainAscii, isPlainIpv4Port } from './plain-text.js';
import type { Endpoint, EndpointInput, Metadata, Node, NodeInput, Service, ServiceInput, Value } from './registry.js';

/** Size limits a service must fit. Each adapter declares its own, at least as strict as {@link portableLimits}. */
export interface SizeLimits {
  /** Named in error messages, e.g. `"portable"` or `"mdns TXT record"`. */
  readonly label: string;
  /** Most pairs in one metadata map (service, node or endpoint); portable: 64. Past it: `TOO_LARGE`. */
  readonly maxMetadataEntries: number;
  /** Longest metadata key, in UTF-8 bytes; portable: 128. Past it: `TOO_LARGE`. */
  readonly maxMetadataKeyBytes: number;
  /** Longest metadata value, in UTF-8 bytes; portable: 512. Past it: `TOO_LARGE`. */
  readonly maxMetadataValueBytes: number;
  /** Most endpoints one service declares; portable: 256. Past it: `TOO_LARGE`. */
  readonly maxEndpoints: number;
  /** Most nodes in one registration; portable: 1024. Past it: `TOO_LARGE`. */
  readonly maxNodes: number;
  /** Go Micro JSON of the service carrying a single node, in bytes: what one node costs on the wire. */
  readonly maxNodeEncodedBytes: number;
}

/**
 * What every adapter carries. The metadata limits are Consul's `Meta` limits (64 pairs, 128-byte
 * keys, 512-byte values), the tightest of the backends that store metadata as such, so a service
 * that registers on one adapter registers on all of them.
 */
export const portableLimits: SizeLimits = Object.freeze({
  label: 'portable',
  maxMetadataEntries: 64,
  maxMetadataKeyBytes: 128,
  maxMetadataValueBytes: 512,
  maxEndpoints: 256,
  maxNodes: 1024,
  maxNodeEncodedBytes: 64 * 1024,
});

/** Options of {@link normalizeService}: which limits apply and how strict the gate is. */
export interface NormalizeOptions {
  /** The budget the service must fit; `TOO_LARGE` names the limit it breaks. @default portableLimits */
  limits?: SizeLimits;
  /** Adapter name for error messages. */
  adapter?: string;
  /** Networked adapters refuse the name `localhost`: it means a different host to every reader. */
  rejectLocalhost?: boolean;
  /** Fill in `<name>-<uuid>` for nodes without an id (register) rather than rejecting them. */
  defaultNodeIds?: boolean;
  /** A registration needs at least one node; a decoded remote record may describe zero. */
  requireNodes?: boolean;
  /**
   * Check each node against `maxNodeEncodedBytes` (default true). The budget guards what we send;
   * a node decoded from the network is already bounded by the packet that carried it.
   */
  checkEncodedSize?: boolean;
}

const MAX_NAME_BYTES = 255;
/** Endpoint value trees from the network are bounded so a hostile peer cannot exhaust the stack. */
const MAX_VALUE_DEPTH = 16;
const controlOrSpace = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]/u;
const control = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const hostnamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

class Checker {
  constructor(readonly options: NormalizeOptions) {}

  get limits(): SizeLimits {
    return this.options.limits ?? portableLimits;
  }

  fail(field: string, message: string, code: 'INVALID_SERVICE' | 'TOO_LARGE' = 'INVALID_SERVICE'): never {
    throw new RollcallError(code, `${field}: ${message}`, { adapter: this.options.adapter });
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  name(value: unknown, field: string, allowEmpty = false): string {
    const text = this.string(value, field);
    if (text.length === 0) {
      if (allowEmpty) return text;
      this.fail(field, 'must not be empty');
    }
    // A UTF-16 code unit is at most 3 bytes of UTF-8: short names need no count.
    if (text.length * 3 > MAX_NAME_BYTES) {
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_NAME_BYTES) this.fail(field, `is ${bytes} bytes, over the limit of ${MAX_NAME_BYTES}`);
    }
    // Printable ASCII, as nearly every name is, needs no Unicode classes (see plain-text.ts).
    if (!isPlainAscii(text, allowEmpty) && (allowEmpty ? control : controlOrSpace).test(text)) {
      this.fail(field, `must not contain ${allowEmpty ? 'control characters' : 'whitespace or control characters'}`);
    }
    return text;
  }

  metadata(value: unknown, field: string): Metadata {
    if (value === undefined || value === null) return emptyMetadata;
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, `must be an object of strings, got ${describe(value)}`);
    const keys = Object.keys(value);
    if (keys.length === 0) return emptyMetadata;
    keys.sort();
    const { maxMetadataEntries, maxMetadataKeyBytes, maxMetadataValueBytes, label } = this.limits;
    if (keys.length > maxMetadataEntries) {
      this.fail(field, `has ${keys.length} entries, over the ${label} limit of ${maxMetadataEntries}`, 'TOO_LARGE');
    }
    const out: Record<string, string> = {};
    for (const key of keys) {
      if (key.length === 0) this.fail(field, 'keys must not be empty');
      if (!isPlainAscii(key, true) && control.test(key))
        this.fail(`${field}[${JSON.stringify(key)}]`, 'key must not contain control characters');
      const keyBytes = Buffer.byteLength(key);
      if (keyBytes > maxMetadataKeyBytes) {
        this.fail(
          `${field}[${JSON.stringify(key)}]`,
          `key is ${keyBytes} bytes, over the ${label} limit of ${maxMetadataKeyBytes}`,
          'TOO_LARGE',
        );
      }
      const entry = this.string((value as Record<string, unknown>)[key], `${field}[${JSON.stringify(key)}]`);
      const valueBytes = Buffer.byteLength(entry);
      if (valueBytes > maxMetadataValueBytes) {
        this.fail(
          `${field}[${JSON.stringify(key)}]`,
          `value is ${valueBytes} bytes, over the ${label} limit of ${maxMetadataValueBytes}`,
          'TOO_LARGE',
        );
      }
      out[key] = entry;
    }
    return Object.freeze(out);
  }

  value(value: unknown, field: string, depth: number): Value | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    if (depth > MAX_VALUE_DEPTH) this.fail(field, `nests deeper than ${MAX_VALUE_DEPTH} levels`);
    const input = value as Record<string, unknown>;
    const values = input.values;
    let children: readonly Value[] | null = null;
    if (values !== undefined && values !== null) {
      if (!Array.isArray(values)) this.fail(`${field}.values`, `must be an array, got ${describe(values)}`);
      children = Object.freeze(
        values.map((child, i) => {
          const v = this.value(child, `${field}.values[${i}]`, depth + 1);
          if (v === null) this.fail(`${field}.values[${i}]`, 'must not be null');
          return v;
        }),
      );
    }
    return Object.freeze({
      name: input.name == null ? '' : this.string(input.name, `${field}.name`),
      type: input.type == null ? '' : this.string(input.type, `${field}.type`),
      values: children,
    });
  }

  endpoint(value: unknown, field: string): Endpoint {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    const input = value as EndpointInput;
    return Object.freeze({
      name: this.name(input.name, `${field}.name`),
      request: this.value(input.request, `${field}.request`, 1),
      response: this.value(input.response, `${field}.response`, 1),
      metadata: this.metadata(input.metadata, `${field}.metadata`),
    });
  }

  node(value: unknown, field: string, serviceName: string): Node {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    const input = value as NodeInput;
    let id: string;
    if ((input.id === undefined || input.id === '') && this.options.defaultNodeIds) id = `${serviceName}-${randomUUID()}`;
    else id = this.name(input.id, `${field}.id`);
    const address = this.string(input.address, `${field}.address`);
    const problem = addressProblem(address, this.options.rejectLocalhost === true);
    if (problem) this.fail(`${field}.address`, `${JSON.stringify(address)} ${problem}`);
    return Object.freeze({ id, address, metadata: this.metadata(input.metadata, `${field}.metadata`) });
  }
}

const emptyMetadata: Metadata = Object.freeze({});
const noNodes: readonly Node[] = Object.freeze([]);
const noEndpoints: readonly Endpoint[] = Object.freeze([]);

/**
 * Validates and normalises a service: the one gate every registration and every decoded remote
 * record passes. Throws `INVALID_SERVICE` or `TOO_LARGE` naming the field and the limit.
 */
export function normalizeService(input: unknown, options: NormalizeOptions = {}): Service {
  const check = new Checker(options);
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    check.fail('service', `must be an object, got ${describe(input)}`);
  const raw = input as ServiceInput;
  const name = check.name(raw.name, 'name');
  const version = raw.version == null ? '' : check.name(raw.version, 'version', true);
  const metadata = check.metadata(raw.metadata, 'metadata');
  const limits = check.limits;

  let endpoints: readonly Endpoint[] = noEndpoints;
  if (raw.endpoints != null) {
    if (!Array.isArray(raw.endpoints)) check.fail('endpoints', `must be an array, got ${describe(raw.endpoints)}`);
    if (raw.endpoints.length > limits.maxEndpoints) {
      check.fail('endpoints', `has ${raw.endpoints.length} entries, over the ${limits.label} limit of ${limits.maxEndpoints}`, 'TOO_LARGE');
    }
    // Most services list none: the shared frozen empty list, no copy.
    if (raw.endpoints.length > 0) endpoints = Object.freeze(raw.endpoints.map((e, i) => check.endpoint(e, `endpoints[${i}]`)));
  }

  let nodes: readonly Node[] = noNodes;
  if (raw.nodes != null) {
    if (!Array.isArray(raw.nodes)) check.fail('nodes', `must be an array, got ${describe(raw.nodes)}`);
    if (raw.nodes.length > limits.maxNodes) {
      check.fail('nodes', `has ${raw.nodes.length} entries, over the ${limits.label} limit of ${limits.maxNodes}`, 'TOO_LARGE');
    }
    const checked: Node[] = [];
    for (let i = 0; i < raw.nodes.length; i++) checked.push(check.node(raw.nodes[i], `nodes[${i}]`, name));
    const sorted = checked.length > 1 ? [...checked].sort(byId) : checked;
    // Sorted, a repeated id sits next to itself: named at its second place in the input.
    for (let i = 1; i < sorted.length; i++) {
      const id = (sorted[i] as Node).id;
      if (id !== (sorted[i - 1] as Node).id) continue;
      const first = checked.findIndex((n) => n.id === id);
      const second = checked.findIndex((n, j) => j > first && n.id === id);
      check.fail(`nodes[${second}].id`, `${JSON.stringify(id)} appears twice`);
    }
    nodes = Object.freeze(sorted);
  }
  if (options.requireNodes && nodes.length === 0) check.fail('nodes', 'must list at least one node');

  const service: Service = Object.freeze({ name, version, metadata, endpoints, nodes });
  if (options.checkEncodedSize === false) return service;
  for (const node of nodes) {
    const bytes = encodedNodeBytes(service, node);
    if (bytes > limits.maxNodeEncodedBytes) {
      check.fail(
        `nodes[${JSON.stringify(node.id)}]`,
        `the service with this node encodes to ${bytes} bytes, over the ${limits.label} limit of ${limits.maxNodeEncodedBytes}`,
        'TOO_LARGE',
      );
    }
  }
  return service;
}

/** Bytes of Go Micro JSON for the service carrying only `node`: what one node costs on the wire. */
export function encodedNodeBytes(service: Service, node: Node): number {
  return Buffer.byteLength(JSON.stringify({ ...service, nodes: [node] }));
}

/**
 * Why `address` is not a usable `host:port`, or `undefined` when it is. Accepts IPv4, bracketed
 * IPv6 with an optional zone id, and DNS host names; ports 1..65535 in plain decimal.
 */
export function addressProblem(address: string, rejectLocalhost = false): string | undefined {
  // The common case in one pass: every node an mDNS browser hears has an address of this shape.
  if (isPlainIpv4Port(address)) return undefined;
  const parsed = splitHostPort(address);
  if (!parsed) return 'is not host:port (IPv6 goes in brackets: [::1]:8080)';
  const { host, port } = parsed;
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `has port ${JSON.stringify(port)}; ports are 1..65535`;
  if (address.startsWith('[')) {
    const [ip, zone, extra] = host.split('%');
    if (extra !== undefined || !ip || !isIPv6(ip)) return 'has an invalid IPv6 address';
    if (zone !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(zone)) return 'has an invalid IPv6 zone id';
    return undefined;
  }
  if (isIPv4(host)) return undefined;
  if (/^[0-9.]+$/.test(host)) return 'has an invalid IPv4 address';
  if (!hostnamePattern.test(host)) return 'has an invalid host name';
  if (rejectLocalhost && /^localhost\.?$/i.test(host))
    return 'uses "localhost", which means a different host to every reader: use an IP address';
  return undefined;
}

export { joinHostPort, splitHostPort };

/** A service with other nodes, sharing every other (frozen) field. */
export function withNodes(service: Service, nodes: readonly Node[]): Service {
  return Object.freeze({ ...service, nodes: Object.freeze([...nodes].sort(byId)) });
}

/** A service without nodes: what `listServices` returns and what `delete` events carry. */
export function withoutNodes(service: Service): Service {
  return service.nodes.length === 0 ? service : Object.freeze({ ...service, nodes: noNodes });
}

/** Structural equality of normalised (canonical) services, nodes or any JSON data. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], other[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const key of ka) {
    if (!Object.hasOwn(b, key) || !deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** What {@link diffNodes} found, each list sorted as its input; nodes are matched by id. */
export interface NodeDiff {
  /** Ids in the new list only, as they are there. */
  added: readonly Node[];
  /** Ids in both lists whose address or metadata changed, as they are in the new list. */
  updated: readonly Node[];
  /** Ids in the old list only, as they were there. */
  removed: readonly Node[];
}

/** Which nodes appeared, changed or disappeared between two versions of a node list. */
export function diffNodes(before: readonly Node[], after: readonly Node[]): NodeDiff {
  const previous = new Map(before.map((n) => [n.id, n]));
  const added: Node[] = [];
  const updated: Node[] = [];
  for (const node of after) {
    const old = previous.get(node.id);
    if (!old) added.push(node);
    else {
      previous.delete(node.id);
      if (old !== node && !deepEqual(old, node)) updated.push(node);
    }
  }
  return { added, updated, removed: [...previous.values()] };
}

/** The key a (name, version) pair is tracked under. Versions may contain anything but NUL-free names cannot. */
export function serviceKey(name: string, version: string): string {
  return joinKey(name, version);
}

function byId(a: Node, b: Node): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
