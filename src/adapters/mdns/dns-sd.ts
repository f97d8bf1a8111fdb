/**
 * The standard DNS-SD profile (RFC 6763), what avahi-browse and dns-sd can list:
 *
 * - service type `_rollcall._tcp.<domain>`, one subtype per service name
 *   (`_greeter._sub._rollcall._tcp.local`) so a lookup asks only for the name it wants;
 * - instance `<label>._rollcall._tcp.local`, the label being the node id when it is a plain label
 *   of at most 63 bytes, else a readable prefix plus a hash of the id (see names.ts);
 * - TXT as key=value strings, `txtvers=1` first:
 *   `name`, `version`, `id`, `s.<key>` (service metadata), `n.<key>` (node metadata),
 *   `endpoints=<count>` and `e.<index>=<JSON>` for the endpoints that fit.
 *   Keys are printable ASCII and compare case-insensitively (RFC 6763 §6.4): uppercase letters,
 *   other bytes, `=`, `%` and `+` in metadata keys are percent-encoded. A value too long for one 255-byte string continues in `key+1`, `key+2`, ...
 *
 * Wire format: append only. Readers ignore keys they do not know, so new keys may be added
 * under txtvers=1; changing the meaning of an existing key needs txtvers=2.
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { RollcallError } from '../../errors.js';
import { isAscii } from '../../plain-text.js';
import type { Node, Service } from '../../registry.js';
import { portableLimits, type SizeLimits } from '../../service.js';
import { type Codec, type DecodedInstance, tooLarge, txtBytes } from './codec.js';
import { foldAscii, foldName, hostLabel, safeLabel, subtypeLabel } from './names.js';
import type { Rr } from './packet.js';

export const SERVICE_TYPE = '_rollcall._tcp';
export const TXT_VERSION = '1';
/** RFC 6763 §6.2: keep TXT under 1300 bytes so the answer still fits one packet with its SRV and addresses. */
export const TXT_BUDGET = 1300;
/** RFC 6763 §9: the enumeration of service types on the link. */
export const ENUMERATION = '_services._dns-sd._udp';
/** RFC 6762 §10: records not carrying a host name live 75 minutes. */
const SHARED_TTL = 4500;
const MAX_TXT_STRING = 255;

export function escapeKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key)) {
    // Uppercase is escaped too: keys compare case-insensitively, metadata keys do not.
    const printable = byte > 0x20 && byte < 0x7f && byte !== 0x3d && byte !== 0x25 && byte !== 0x2b && !(byte >= 0x41 && byte <= 0x5a);
    out += printable ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function unescapeKey(key: string): string | undefined {
  // What escapeKey writes for a plain key: nothing to undo.
  if (!key.includes('%') && isAscii(key)) return key;
  if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(key)) return undefined;
  const bytes = Buffer.from(
    key.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  );
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/** `key=value` strings, the value split over `key+1`, `key+2`... when it does not fit 255 bytes. */
export function keyValue(key: string, value: string | Buffer): Buffer[] {
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  const out: Buffer[] = [];
  let rest = data;
  for (let part = 0; part === 0 || rest.length > 0; part++) {
    const head = Buffer.from(`${part === 0 ? key : `${key}+${part}`}=`);
    const room = MAX_TXT_STRING - head.length;
    if (room <= 0) throw new RollcallError('TOO_LARGE', `TXT key ${JSON.stringify(key)} is longer than a TXT string`, { adapter: 'mdns' });
    out.push(Buffer.concat([head, rest.subarray(0, room)]));
    rest = rest.subarray(room);
  }
  return out;
}

/**
 * TXT strings as a key -> value map: first occurrence wins and keys compare case-insensitively
 * (RFC 6763 §6.4). Values are Latin-1 strings, one char per byte (see {@link txtText}).
 */
export function parseTxt(strings: readonly Buffer[]): Map<string, string> {
  return readTxt(strings.map((s) => s.toString('latin1'))).map;
}

interface TxtMap {
  readonly map: Map<string, string>;
  /** Some key continues in `key+1`... (a value over 255 bytes). */
  readonly continued: boolean;
  /** Some key carries metadata or an endpoint (`s.`, `n.`, `e.`). */
  readonly extra: boolean;
}

// The strings arrive as Latin-1 text (byte for byte); the rest is string work, which is cheaper
// than slicing and converting buffers, and a value over several strings is a plain concatenation.
function readTxt(strings: readonly string[]): TxtMap {
  const map = new Map<string, string>();
  let continued = false;
  let extra = false;
  for (let i = 0; i < strings.length; i++) {
    const str = strings[i] as string;
    const eq = str.indexOf('=');
    if (eq <= 0) continue;
    const key = foldAscii(str.slice(0, eq));
    if (map.has(key)) continue;
    map.set(key, str.slice(eq + 1));
    continued ||= key.includes('+');
    extra ||= key.charCodeAt(1) === 0x2e; // `x.`
  }
  return { map, continued, extra };
}

function joined(txt: TxtMap, key: string): string | undefined {
  const first = txt.map.get(key);
  if (first === undefined || !txt.continued) return first;
  let value = first;
  for (let i = 1; ; i++) {
    const next = txt.map.get(`${key}+${i}`);
    if (next === undefined) return value;
    value += next;
  }
}

/** `key+1`, `key+2`...: the continuation of a value over 255 bytes. */
const CONTINUATION_KEY = /\+\d+$/;
const ENDPOINT_KEY = /^e\.\d{1,4}$/;

/** A Latin-1 string of TXT bytes as the text they encode in UTF-8; undefined when they are not UTF-8. */
export function txtText(latin1: string | undefined): string | undefined {
  if (latin1 === undefined || isAscii(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

export class DnsSdCodec implements Codec {
  readonly profile = 'dns-sd' as const;
  readonly limits: SizeLimits = Object.freeze({ ...portableLimits, label: 'mdns (dns-sd)' });
  readonly renameable = true;
  readonly srvPriority = 0;
  readonly srvWeight = 0;
  readonly browseAll: string;
  readonly #type: string;
  readonly #folded: string;
  readonly #suffix: string;
  readonly #subSuffix: string;

  constructor(readonly domain = 'local') {
    this.#type = `${SERVICE_TYPE}.${domain}`;
    this.browseAll = this.#type;
    this.#folded = foldName(this.#type);
    this.#suffix = `.${this.#folded}`;
    this.#subSuffix = `._sub${this.#suffix}`;
  }

  browseName(service: string): string {
    return `${subtypeLabel(service)}._sub.${this.#type}`;
  }

  label(_service: Service, node: Node): string {
    return safeLabel(node.id);
  }

  instanceName(label: string): string {
    return `${label}.${this.#type}`;
  }

  hostName(ip: string | undefined, _instance: string, tag: string): string {
    return `${hostLabel(ip, tag)}.${this.domain}`;
  }

  txt(service: Service, node: Node, budget: number): Buffer[] {
    const strings = [
      ...keyValue('txtvers', TXT_VERSION),
      ...keyValue('name', service.name),
      ...keyValue('version', service.version),
      ...keyValue('id', node.id),
    ];
    for (const [k, v] of Object.entries(service.metadata)) strings.push(...keyValue(`s.${escapeKey(k)}`, v));
    for (const [k, v] of Object.entries(node.metadata)) strings.push(...keyValue(`n.${escapeKey(k)}`, v));
    const limit = Math.min(budget, TXT_BUDGET);
    const required = txtBytes(strings);
    if (required > limit) {
      throw tooLarge('dns-sd', `node ${JSON.stringify(node.id)} (name, version, id and metadata)`, required, limit);
    }
    if (service.endpoints.length === 0) return strings;
    // Endpoints are a convenience for tools; a node is usable without them, so they go only while they fit.
    const withEndpoints = [...strings, ...keyValue('endpoints', String(service.endpoints.length))];
    let size = txtBytes(withEndpoints);
    if (size > limit) return strings;
    for (const [i, endpoint] of service.endpoints.entries()) {
      const entry = keyValue(`e.${i}`, JSON.stringify(endpoint));
      const bytes = txtBytes(entry);
      if (size + bytes > limit) break;
      withEndpoints.push(...entry);
      size += bytes;
    }
    return withEndpoints;
  }

  sharedRecords(service: Service, instance: string): Rr[] {
    return [
      { name: this.#type, type: 'PTR', ttl: SHARED_TTL, flush: false, data: instance },
      { name: this.browseName(service.name), type: 'PTR', ttl: SHARED_TTL, flush: false, data: instance },
      { name: `${ENUMERATION}.${this.domain}`, type: 'PTR', ttl: SHARED_TTL, flush: false, data: this.#type },
    ];
  }

  isInstance(folded: string): boolean {
    return folded.endsWith(this.#suffix) && !folded.endsWith(this.#subSuffix);
  }

  isBrowseName(folded: string): boolean {
    return folded === this.#folded || folded.endsWith(this.#subSuffix);
  }

  listedService(): undefined {
    return undefined;
  }

  decode(_instance: string, strings: readonly string[]): DecodedInstance | string {
    const txt = readTxt(strings);
    const version = txtText(txt.map.get('txtvers'));
    if (version !== TXT_VERSION) return version === undefined ? 'TXT without txtvers' : `unsupported txtvers ${JSON.stringify(version)}`;
    const name = txtText(joined(txt, 'name'));
    const nodeId = txtText(joined(txt, 'id'));
    if (!name || !nodeId) return 'TXT without name or id';
    const metadata: Record<string, string> = {};
    const nodeMetadata: Record<string, string> = {};
    const endpoints: unknown[] = [];
    for (const key of txt.extra ? txt.map.keys() : []) {
      const prefix = key.slice(0, 2);
      if (prefix !== 's.' && prefix !== 'n.' && prefix !== 'e.') continue;
      if (key.includes('+') && CONTINUATION_KEY.test(key)) continue;
      if (prefix === 's.' || prefix === 'n.') {
        const original = unescapeKey(key.slice(2));
        const value = txtText(joined(txt, key));
        if (original === undefined || value === undefined) return `unreadable metadata key ${JSON.stringify(key)}`;
        (prefix === 's.' ? metadata : nodeMetadata)[original] = value;
      } else if (ENDPOINT_KEY.test(key)) {
        const json = txtText(joined(txt, key));
        try {
          endpoints.push(JSON.parse(json ?? ''));
        } catch {
          return `unreadable endpoint ${key}`;
        }
      }
    }
    return { name, version: txtText(joined(txt, 'version')) ?? '', metadata, endpoints, nodeId, nodeMetadata };
  }
}
