/**
 * Go Micro's mDNS format (go-micro `registry/mdns_registry.go` and its fork of hashicorp/mdns),
 * reproduced so Go services and rollcall find each other:
 *
 * - domain `micro`; a service is the PTR name `<service>.micro.` (plain concatenation, so the
 *   dots of `go.micro.srv.greeter` become labels), an instance `<nodeId>.<service>.micro.`;
 * - SRV priority 10 weight 1; the node id is the instance name minus `.<service>.micro.`;
 * - TXT: JSON `{"Service","Version","Endpoints","Metadata"}` (`Metadata` is the node's), zlib at
 *   the default level, lowercase hex, cut into 255-character strings;
 * - a listing entry per service name, instance `<service>._services.micro.` (port 9999, address
 *   0.0.0.0, empty TXT), which Go's ListServices browses.
 *
 * Service metadata has no place in this format and is not carried. The SRV target is the
 * instance name itself, which owns the address records: Go's client ties addresses to an entry
 * through the SRV target, so a target shared by several nodes would mix their addresses.
 * @module
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { RollcallError } from '../../errors.js';
import type { Node, Service } from '../../registry.js';
import { portableLimits, type SizeLimits } from '../../service.js';
import { type Codec, type DecodedInstance, tooLarge, txtBytes } from './codec.js';
import { foldName, nameProblem } from './names.js';
import type { Rr } from './packet.js';

/** Go Micro cuts the hex into strings of this many characters. */
const CHUNK = 255;
/** A decompressed TXT larger than this is not a node description: refuse before it costs memory. */
const MAX_INFLATED = 64 * 1024;
const LISTING = '_services';
const LISTING_PORT = 9999;

export function encodeGoMicroTxt(service: Service, node: Node): string[] {
  // Go writes nil slices and maps as null; its decoder accepts both, and so does ours.
  const json = JSON.stringify({
    Service: service.name,
    Version: service.version,
    Endpoints: service.endpoints.length > 0 ? service.endpoints : null,
    Metadata: Object.keys(node.metadata).length > 0 ? node.metadata : null,
  });
  const hex = deflateSync(json).toString('hex');
  const out: string[] = [];
  for (let i = 0; i < hex.length; i += CHUNK) out.push(hex.slice(i, i + CHUNK));
  return out.length > 0 ? out : [''];
}

export interface GoMicroTxt {
  Service?: unknown;
  Version?: unknown;
  Endpoints?: unknown;
  Metadata?: unknown;
}

/** Go Micro's decode of its TXT strings (as Latin-1 text): join, hex, inflate, JSON. Returns why not instead of throwing. */
export function decodeGoMicroTxt(strings: readonly string[]): GoMicroTxt | string {
  const hex = strings.join('');
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return 'TXT is not hex';
  let json: string;
  try {
    json = inflateSync(Buffer.from(hex, 'hex'), { maxOutputLength: MAX_INFLATED }).toString('utf8');
  } catch {
    return 'TXT does not inflate (or inflates past 64 KiB)';
  }
  try {
    const parsed = JSON.parse(json) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as GoMicroTxt) : 'TXT JSON is not an object';
  } catch {
    return 'TXT is not JSON';
  }
}

export class GoMicroCodec implements Codec {
  readonly profile = 'go-micro' as const;
  /**
   * Endpoints travel in the TXT too, so a service whose JSON is this large cannot compress into
   * one packet: refused before it is encoded (the exact budget is checked when it is).
   */
  readonly limits: SizeLimits = Object.freeze({ ...portableLimits, label: 'mdns (go-micro)', maxNodeEncodedBytes: 16 * 1024 });
  readonly renameable = false;
  readonly srvPriority = 10;
  readonly srvWeight = 1;
  readonly browseAll: string;
  readonly #suffix: string;
  readonly #listingSuffix: string;

  constructor(readonly domain = 'micro') {
    this.browseAll = `${LISTING}.${domain}`;
    this.#suffix = `.${foldName(domain)}`;
    this.#listingSuffix = `.${foldName(this.browseAll)}`;
  }

  browseName(service: string): string {
    return `${service}.${this.domain}`;
  }

  label(service: Service, node: Node): string {
    const instance = this.instanceName(node.id, service);
    const problem = nameProblem(instance);
    if (problem) {
      throw new RollcallError(
        'TOO_LARGE',
        `node ${JSON.stringify(node.id)}: Go Micro's instance name ${JSON.stringify(instance)} ${problem} (DNS labels are at most 63 bytes, names 255)`,
        { adapter: 'mdns' },
      );
    }
    return node.id;
  }

  instanceName(label: string, service: Service): string {
    return `${label}.${service.name}.${this.domain}`;
  }

  hostName(_ip: string | undefined, instance: string): string {
    return instance;
  }

  txt(service: Service, node: Node, budget: number): Buffer[] {
    const strings = encodeGoMicroTxt(service, node).map((s) => Buffer.from(s, 'latin1'));
    const bytes = txtBytes(strings);
    if (bytes > budget)
      throw tooLarge(
        'go-micro',
        `node ${JSON.stringify(node.id)} (compressed JSON)`,
        bytes,
        budget,
        '; Go Micro carries endpoints in it too',
      );
    return strings;
  }

  sharedRecords(service: Service, instance: string, ttl: number): Rr[] {
    const listing = `${service.name}.${this.browseAll}`;
    // Every host with a node of this service publishes the same listing entry, as Go Micro does: shared, no cache-flush.
    return [
      { name: this.browseName(service.name), type: 'PTR', ttl, flush: false, data: instance },
      { name: this.browseAll, type: 'PTR', ttl, flush: false, data: listing },
      { name: listing, type: 'SRV', ttl, flush: false, data: { priority: 10, weight: 1, port: LISTING_PORT, target: listing } },
      { name: listing, type: 'A', ttl, flush: false, data: '0.0.0.0' },
      { name: listing, type: 'TXT', ttl, flush: false, data: [] },
    ];
  }

  isInstance(folded: string): boolean {
    return folded.endsWith(this.#suffix) && !folded.endsWith(this.#listingSuffix);
  }

  isBrowseName(folded: string): boolean {
    return folded.endsWith(this.#suffix) || folded === this.#suffix.slice(1);
  }

  listedService(ptrName: string, target: string): string | undefined {
    if (`.${foldName(ptrName)}` !== this.#listingSuffix) return undefined;
    const folded = foldName(target);
    if (!folded.endsWith(this.#listingSuffix) || folded.length === this.#listingSuffix.length) return undefined;
    const trimmed = target.endsWith('.') ? target.slice(0, -1) : target;
    return trimmed.slice(0, trimmed.length - this.#listingSuffix.length);
  }

  decode(instance: string, strings: readonly string[]): DecodedInstance | string {
    const txt = decodeGoMicroTxt(strings);
    if (typeof txt === 'string') return txt;
    if (typeof txt.Service !== 'string' || txt.Service.length === 0) return 'TXT without Service';
    const name = txt.Service;
    const trimmed = instance.endsWith('.') ? instance.slice(0, -1) : instance;
    const suffix = `.${foldName(name)}${this.#suffix}`;
    if (!foldName(trimmed).endsWith(suffix) || trimmed.length <= suffix.length) return 'instance name does not end in .<service>.<domain>';
    return {
      name,
      version: typeof txt.Version === 'string' ? txt.Version : '',
      metadata: {},
      endpoints: txt.Endpoints ?? null,
      nodeId: trimmed.slice(0, trimmed.length - suffix.length),
      nodeMetadata: txt.Metadata ?? null,
    };
  }
}
