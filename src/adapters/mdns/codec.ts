/**
 * The one interface behind the two wire profiles: how a node becomes records (instance name,
 * TXT, shared pointers) and how records become a node again. `dns-sd.ts` is the standard
 * DNS-SD flavour avahi and dns-sd can browse; `go-micro.ts` is Go Micro's own.
 * @module
 */
import { RollcallError } from '../../errors.js';
import type { Node, Service } from '../../registry.js';
import type { SizeLimits } from '../../service.js';
import type { Rr, txtStrings } from './packet.js';

/**
 * The wire format: `dns-sd`, standard DNS-SD that avahi and dns-sd read; `go-micro`, Go Micro's
 * mDNS registry format (domain `micro`, compressed JSON TXT). See {@link MdnsOptions.profile}.
 */
export type MdnsProfile = 'dns-sd' | 'go-micro';

/** What a codec reads back from one instance's TXT (and name): still unvalidated input. */
export interface DecodedInstance {
  readonly name: string;
  readonly version: string;
  readonly metadata: unknown;
  readonly endpoints: unknown;
  readonly nodeId: string;
  readonly nodeMetadata: unknown;
}

export interface Codec {
  readonly profile: MdnsProfile;
  /** The mDNS domain without a trailing dot: `local`, or `micro` for Go Micro. */
  readonly domain: string;
  /** Field limits checked by the core before anything is encoded. */
  readonly limits: SizeLimits;
  /**
   * Whether a conflicting instance may take another name. Go Micro derives the node id from the
   * instance name, so there a conflict is an error instead.
   */
  readonly renameable: boolean;
  /** SRV priority and weight (Go Micro writes 10 and 1; DNS-SD tools expect 0 and 0). */
  readonly srvPriority: number;
  readonly srvWeight: number;
  /** The PTR name that lists every service. */
  readonly browseAll: string;
  /** The PTR name that lists the instances of one service. */
  browseName(service: string): string;
  /** The label a node asks for first. Throws `TOO_LARGE` when the profile cannot name it. */
  label(service: Service, node: Node): string;
  instanceName(label: string, service: Service): string;
  /**
   * The SRV target (and owner of the address records) for a node whose address is an IP (or a
   * wildcard: `any4`, `any6`); `ip` is undefined when only a per-node name (Go Micro's) is asked.
   */
  hostName(ip: string | undefined, instance: string, tag: string): string;
  /** TXT strings within `budget` bytes; throws `TOO_LARGE` naming the limit when the required part does not fit. */
  txt(service: Service, node: Node, budget: number): Buffer[];
  /** Records shared with other instances that point at this one (PTRs, listings). */
  sharedRecords(service: Service, instance: string, ttl: number): Rr[];
  /** SRV/TXT owner names that belong to this profile's instances (folded). */
  isInstance(folded: string): boolean;
  /** PTR owner names this profile browses (folded). */
  isBrowseName(folded: string): boolean;
  /** The service a listing PTR announces, for profiles whose "all" browse lists names, not instances. */
  listedService(ptrName: string, target: string): string | undefined;
  /**
   * The node an instance describes, or why it cannot be read. Never throws. `txt` holds the TXT
   * strings as Latin-1 text, one char per byte ({@link txtStrings}).
   */
  decode(instance: string, txt: readonly string[]): DecodedInstance | string;
}

/** Bytes of TXT rdata for these strings (a length byte each). */
export function txtBytes(strings: readonly Buffer[]): number {
  return strings.reduce((n, s) => n + s.length + 1, 0);
}

export function tooLarge(profile: MdnsProfile, what: string, bytes: number, budget: number, hint = ''): RollcallError {
  return new RollcallError(
    'TOO_LARGE',
    `${what} encodes to ${bytes} bytes of TXT, over the mdns (${profile}) budget of ${budget} bytes: ` +
      `a node's records must fit one mDNS packet of 1400 bytes${hint}`,
    { adapter: 'mdns' },
  );
}
