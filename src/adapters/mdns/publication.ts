/**
 * What the responder publishes for one registered node, and for the host names its SRV records
 * point at. Records are built per interface because a node registered on a wildcard address
 * (`0.0.0.0`, `::`) is published with the addresses of the interface each packet leaves by, the
 * address a peer on that link can reach (RFC 6762 §15).
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { joinKey } from '../../internal/keys.js';
import type { Node, Service } from '../../registry.js';
import { splitHostPort } from '../../service.js';
import type { Codec } from './codec.js';
import { foldName } from './names.js';
import type { RecordGroup, Rr } from './packet.js';
import type { Target } from './prober.js';

export type AddressSpec =
  | { readonly kind: 'ip'; readonly ip: string; readonly family: 4 | 6 }
  | { readonly kind: 'wildcard'; readonly family: 4 | 6 }
  | { readonly kind: 'name'; readonly host: string };

/** How a node's `host:port` is published: its own address records, the link's, or a DNS name as the SRV target. */
export function parseAddress(address: string): { spec: AddressSpec; port: number } {
  const { host, port } = splitHostPort(address) ?? { host: address, port: '0' };
  const ip = host.replace(/%.*$/, '');
  let spec: AddressSpec;
  if (ip === '0.0.0.0') spec = { kind: 'wildcard', family: 4 };
  else if (ip === '::') spec = { kind: 'wildcard', family: 6 };
  else if (isIPv4(ip)) spec = { kind: 'ip', ip, family: 4 };
  else if (isIPv6(ip)) spec = { kind: 'ip', ip, family: 6 };
  else spec = { kind: 'name', host: host.endsWith('.') ? host.slice(0, -1) : host };
  return { spec, port: Number(port) };
}

export type PublishState = 'probing' | 'live';

/** A host name we own, with the address records of one IP or of the interfaces (wildcard). */
export class HostEntry {
  name: string;
  fname: string;
  state: PublishState = 'probing';
  readonly users = new Set<Publication>();
  established: Promise<void>;
  settle!: { resolve: () => void; reject: (e: Error) => void };
  conflicts = 0;
  /** Go Micro's host is the instance itself: one node's, claimed with the instance. */
  perNode = false;

  constructor(
    name: string,
    readonly spec: Extract<AddressSpec, { kind: 'ip' | 'wildcard' }>,
  ) {
    this.name = name;
    this.fname = foldName(name);
    this.established = this.#promise();
  }

  #promise(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    p.catch(() => {});
    return p;
  }

  rename(name: string): void {
    this.name = name;
    this.fname = foldName(name);
  }

  /** The longest TTL among the nodes using this host: its records must outlive each of them. */
  get ttl(): number {
    let ttl = 1;
    for (const p of this.users) ttl = Math.max(ttl, p.ttl);
    return ttl;
  }

  records(target: Target, ttl = this.ttl): Rr[] {
    const spec = this.spec;
    if (spec.kind === 'ip') {
      return [{ name: this.name, type: spec.family === 4 ? 'A' : 'AAAA', ttl, flush: true, data: spec.ip }];
    }
    const list = spec.family === 4 ? target.iface.v4 : target.iface.v6;
    return list.map((a) => ({
      name: this.name,
      type: spec.family === 4 ? ('A' as const) : ('AAAA' as const),
      ttl,
      flush: true,
      data: a.address,
    }));
  }
}

/** One registered node on the wire. */
export class Publication {
  readonly key: string;
  service: Service;
  node: Node;
  /** The registration keeping it alive; a takeover by another registration changes it. */
  owner: object;
  /** Seconds, for SRV, TXT and address records. */
  ttl: number;
  label: string;
  instance = '';
  fname = '';
  port = 0;
  spec: AddressSpec = { kind: 'name', host: '' };
  host: HostEntry | undefined;
  txt: Buffer[] = [];
  state: PublishState = 'probing';
  /** Set once withdrawn or said goodbye for: nothing may be sent for it any more. */
  withdrawn = false;
  /** Given up to a newer registration of the same node by another process on this host (see Responder). */
  yielded = false;
  /** Record keys of an older registration of this node on this host that this one took the name over from. */
  readonly supersedes = new Set<string>();
  conflicts = 0;
  established: Promise<void>;
  settle!: { resolve: () => void; reject: (e: Error) => void };
  #shared: Rr[] = [];

  constructor(
    readonly codec: Codec,
    service: Service,
    node: Node,
    owner: object,
    ttl: number,
    label: string,
  ) {
    this.key = publicationKey(service.name, node.id);
    this.service = service;
    this.node = node;
    this.owner = owner;
    this.ttl = ttl;
    this.label = label;
    this.established = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.established.catch(() => {});
    this.setLabel(label);
  }

  setLabel(label: string): void {
    this.label = label;
    this.instance = this.codec.instanceName(label, this.service);
    this.fname = foldName(this.instance);
    this.#shared = this.codec.sharedRecords(this.service, this.instance, this.ttl);
  }

  /** Applies a re-registration of the same node (new metadata, version, address or TTL). */
  update(service: Service, node: Node, owner: object, ttl: number, txt: Buffer[]): void {
    this.service = service;
    this.node = node;
    this.owner = owner;
    this.ttl = ttl;
    this.txt = txt;
    this.port = parseAddress(node.address).port;
    this.#shared = this.codec.sharedRecords(service, this.instance, ttl);
  }

  /** Live and still published: what an answer prepared earlier checks before it goes out. */
  get current(): boolean {
    return this.state === 'live' && !this.withdrawn;
  }

  get shared(): readonly Rr[] {
    return this.#shared;
  }

  get target(): string {
    return this.host ? this.host.name : this.spec.kind === 'name' ? this.spec.host : this.instance;
  }

  srv(ttl = this.ttl): Rr {
    const { srvPriority: priority, srvWeight: weight } = this.codec;
    return { name: this.instance, type: 'SRV', ttl, flush: true, data: { priority, weight, port: this.port, target: this.target } };
  }

  txtRecord(ttl = this.ttl): Rr {
    return { name: this.instance, type: 'TXT', ttl, flush: true, data: this.txt };
  }

  /** The records claimed under the instance name (probed, defended). */
  unique(): Rr[] {
    return [this.srv(), this.txtRecord()];
  }

  /** SRV, addresses, TXT: the order Go's client needs (it reads a node from the last record of a packet). */
  resolution(target: Target): Rr[] {
    return [this.srv(), ...(this.host?.records(target) ?? []), this.txtRecord()];
  }

  /** Everything, for announcements, heartbeats and goodbyes. */
  all(target: Target): Rr[] {
    return [...this.#shared, ...this.resolution(target)];
  }

  announcement(target: Target): RecordGroup {
    return { answers: this.all(target) };
  }
}

export function publicationKey(name: string, nodeId: string): string {
  return joinKey(name, nodeId);
}
