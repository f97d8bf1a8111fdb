/**
 * From cached records to nodes: an instance becomes a node once its SRV, its TXT and an address
 * for the SRV target are in the cache; the TXT is decoded by the profile's codec and the node
 * passes the same validation as a registration before it reaches the view. What the view holds
 * follows the cache exactly: a changed TXT is an update, a record gone is a removal. The
 * registry's own nodes join the view first-hand, as local instances (they never pass through the
 * cache: our own multicasts do not come back to us).
 * @module
 */
import { joinKey } from '../../internal/keys.js';
import type { Node, Service } from '../../registry.js';
import { joinHostPort, normalizeService } from '../../service.js';
import type { ServiceView } from '../../view.js';
import type { CachedRecord, RecordCache } from './cache.js';
import type { Codec } from './codec.js';
import { foldName } from './names.js';
import { type SrvData, txtStrings } from './packet.js';

export interface AssemblerHost {
  codec: Codec;
  view: ServiceView;
  cache: RecordCache;
  noteDrop(reason: string, source?: string): void;
}

interface Assembled {
  /** TXT content and address: when both are unchanged, so is the node. */
  readonly txtKey: string;
  readonly address: string;
  /** name, version and node id: where the node sits in the view. */
  readonly key: string;
  readonly service: Service;
  readonly host: string;
}

export interface AssembleResult {
  complete: boolean;
  /** The instance name as heard (for follow-up questions). */
  name: string;
  /** What a PTR promised but the cache lacks. */
  missingRecords?: { srv: boolean; txt: boolean };
  /** An SRV target in mDNS with no address yet. */
  missingHost?: string;
}

/** fe80::/10, as an address starts in text. */
const LINK_LOCAL_V6 = /^fe[89ab]/i;

/** Where the view places a node: name, version, node id. */
function nodeKey(service: Service, node: Node): string {
  return joinKey(service.name, service.version, node.id);
}

/** A local node's instance key: no DNS name starts with NUL, so it never meets a heard instance. */
function localName(id: string): string {
  return joinKey('', id);
}

function isLocal(fname: string): boolean {
  return fname.charCodeAt(0) === 0;
}

function hasLocal(owners: Iterable<string>): boolean {
  for (const fname of owners) if (isLocal(fname)) return true;
  return false;
}

export class Assembler {
  readonly #h: AssemblerHost;
  /** folded instance -> what it currently contributes to the view. */
  readonly #instances = new Map<string, Assembled>();
  /** node key -> instances describing it (a renamed duplicate, a node published twice). */
  readonly #owners = new Map<string, Set<string>>();
  /** folded host name -> instances whose SRV points at it. */
  readonly #hostRefs = new Map<string, Set<string>>();
  /** The reverse, so a ref can be dropped when the SRV goes, even for an instance never complete. */
  readonly #refOf = new Map<string, string>();
  /** folded instance -> the TXT (rdata key) and address it was dropped for: one report per bad node, not one per announcement. */
  readonly #rejected = new Map<string, { readonly txtKey: string; readonly address: string }>();
  #locals = 0;

  constructor(host: AssemblerHost) {
    this.#h = host;
  }

  /** Instances assembled from the network. */
  get size(): number {
    return this.#instances.size - this.#locals;
  }

  has(fname: string): boolean {
    return this.#instances.has(fname);
  }

  serviceName(fname: string): string | undefined {
    return this.#instances.get(fname)?.service.name;
  }

  /** Instances whose SRV names this host: they change when its addresses do. */
  usersOf(host: string): Set<string> | undefined {
    return this.#hostRefs.get(host);
  }

  ref(host: string, instance: string): void {
    const old = this.#refOf.get(instance);
    if (old === host) return;
    if (old !== undefined) this.#unref(instance);
    let set = this.#hostRefs.get(host);
    if (!set) this.#hostRefs.set(host, (set = new Set()));
    set.add(instance);
    this.#refOf.set(instance, host);
  }

  #unref(instance: string): void {
    const host = this.#refOf.get(instance);
    if (host === undefined) return;
    this.#refOf.delete(instance);
    const set = this.#hostRefs.get(host);
    set?.delete(instance);
    if (set?.size === 0) this.#hostRefs.delete(host);
  }

  /** Rebuilds one instance's node from the cache and brings the view in line. */
  assemble(fname: string): AssembleResult {
    const cache = this.#h.cache;
    const srv = cache.newest(fname, 'SRV');
    const txt = cache.newest(fname, 'TXT');
    const before = this.#instances.get(fname);
    if (!srv || !txt) {
      this.remove(fname);
      if (!srv) this.#unref(fname);
      if (!txt) this.#rejected.delete(fname);
      return { complete: false, name: srv?.rr.name ?? txt?.rr.name ?? fname, missingRecords: { srv: !srv, txt: !txt } };
    }
    const data = srv.rr.data as SrvData;
    const host = foldName(data.target);
    this.ref(host, fname);
    const address = this.#address(host, data);
    if (address === undefined) {
      this.remove(fname);
      return { complete: false, name: srv.rr.name, missingHost: data.target };
    }
    if (before?.txtKey === txt.key && before.address === address) return { complete: true, name: srv.rr.name };
    const rejected = this.#rejected.get(fname);
    const known = rejected?.txtKey === txt.key && rejected.address === address;
    const service = known ? undefined : this.#decode(fname, srv.rr.name, txt, address);
    if (rejected && service) this.#rejected.delete(fname);
    const node = service?.nodes[0];
    if (!service || !node) {
      this.remove(fname);
      return { complete: false, name: srv.rr.name };
    }
    this.#put(fname, { txtKey: txt.key, address, key: nodeKey(service, node), service, host }, before);
    return { complete: true, name: srv.rr.name };
  }

  /** One of the registry's own nodes, live: in the view as it was registered, whatever the cache holds. */
  putLocal(id: string, service: Service): void {
    const node = service.nodes[0];
    if (!node) return;
    const fname = localName(id);
    const before = this.#instances.get(fname);
    if (!before) this.#locals++;
    this.#put(fname, { txtKey: '', address: node.address, key: nodeKey(service, node), service, host: '' }, before);
  }

  removeLocal(id: string): void {
    const fname = localName(id);
    if (!this.#instances.has(fname)) return;
    this.#locals--;
    this.remove(fname);
  }

  #put(fname: string, entry: Assembled, before: Assembled | undefined): void {
    if (before && before.key !== entry.key) this.remove(fname);
    this.#instances.set(fname, entry);
    let owners = this.#owners.get(entry.key);
    if (!owners) this.#owners.set(entry.key, (owners = new Set()));
    owners.add(fname);
    // Our own node is first-hand: what the wire says about the same node (a conflicting or forged
    // record, a twin renamed on another host) is kept in the cache but never replaces it.
    if (!isLocal(fname) && hasLocal(owners)) return;
    this.#h.view.putNode(entry.service, entry.service.nodes[0] as Node);
  }

  #address(host: string, srv: SrvData): string | undefined {
    const a = this.#h.cache.newest(host, 'A');
    if (a) return joinHostPort(a.rr.data as string, srv.port);
    const aaaa = this.#h.cache.newest(host, 'AAAA');
    if (aaaa) {
      const ip = aaaa.rr.data as string;
      // A link-local address means nothing without the interface it is reachable on: ours, where it arrived.
      return joinHostPort(LINK_LOCAL_V6.test(ip) ? `${ip}%${aaaa.iface}` : ip, srv.port);
    }
    // A target outside mDNS (a DNS name registered as the node's host) is the address as it stands.
    if (!host.endsWith('.local') && this.#h.codec.profile === 'dns-sd') return joinHostPort(srv.target.replace(/\.$/, ''), srv.port);
    return undefined;
  }

  #decode(fname: string, instance: string, txt: CachedRecord, address: string): Service | undefined {
    const decoded = this.#h.codec.decode(instance, txtStrings(txt.rr));
    if (typeof decoded === 'string') {
      this.#reject(fname, txt, address, `unreadable TXT of ${instance}: ${decoded}`);
      return undefined;
    }
    try {
      // The one gate every node passes, registered here or heard from the network.
      return normalizeService(
        {
          name: decoded.name,
          version: decoded.version,
          metadata: decoded.metadata as Record<string, string>,
          endpoints: decoded.endpoints as [],
          nodes: [{ id: decoded.nodeId, address, metadata: decoded.nodeMetadata as Record<string, string> }],
        },
        // The size budget guards what we send; this node arrived in one packet of at most 9000 bytes.
        { adapter: 'mdns', requireNodes: true, checkEncodedSize: false },
      );
    } catch (error) {
      this.#reject(fname, txt, address, `invalid node in TXT of ${instance}: ${(error as Error).message}`);
      return undefined;
    }
  }

  #reject(fname: string, txt: CachedRecord, address: string, reason: string): void {
    this.#rejected.set(fname, { txtKey: txt.key, address });
    this.#h.noteDrop(reason);
  }

  /** Takes an instance's node out of the view, unless another instance still describes the same node. */
  remove(fname: string): void {
    const before = this.#instances.get(fname);
    if (!before) return;
    this.#instances.delete(fname);
    const owners = this.#owners.get(before.key);
    owners?.delete(fname);
    // A heard twin of our own node leaves the view as it was: it never was in it.
    if (!isLocal(fname) && owners && hasLocal(owners)) return;
    const other = owners && owners.size > 0 ? this.#instances.get(owners.values().next().value as string) : undefined;
    if (owners?.size === 0) this.#owners.delete(before.key);
    const node = before.service.nodes[0];
    if (other?.service.nodes[0]) this.#h.view.putNode(other.service, other.service.nodes[0]);
    else if (node) this.#h.view.removeNode(before.service.name, before.service.version, node.id);
  }
}
