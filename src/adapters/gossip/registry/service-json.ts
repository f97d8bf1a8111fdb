/**
 * Go Micro's JSON of a `registry.Service` (the `data` of a gossip update) and of the push/pull user
 * state `map[name][]Service`, written as Go's encoding/json writes them and read as it reads them.
 *
 * Writing: struct field order, lowercase keys, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029
 * escaped as `\u003c`... (Go's HTML-safe default). Reading: keys matched case-insensitively
 * (encoding/json does), `null` for any map, slice or string, then validated by normalizeService,
 * so bad input is a RollcallError (`INVALID_SERVICE` or `TOO_LARGE`).
 * @module
 */
import { RollcallError } from '../../../errors.js';
import type { Service } from '../../../registry.js';
import { normalizeService, type SizeLimits } from '../../../service.js';

/** A Service JSON over this many bytes is refused before it is parsed. @default 4 MiB */
export const MAX_SERVICE_JSON_BYTES = 4 * 1024 * 1024;
/** memberlist's cap on push/pull user state (limits.ts), the most a Go peer can send. */
export const MAX_GO_STATE_BYTES = 20 * 1024 * 1024;
/** Services one push/pull state may list. */
export const MAX_GO_STATE_SERVICES = 100_000;

export interface GoJsonOptions {
  /** Bytes accepted before parsing. */
  maxBytes?: number;
  /** Limits each decoded service must fit. @default portableLimits */
  limits?: SizeLimits;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

// --- Writing ---

/**
 * The bytes Go's `json.Marshal(service)` produces for a normalised service (its objects already
 * hold Go's field order and sorted metadata keys).
 */
export function serviceToGoJson(service: Service): Uint8Array {
  return utf8.encode(goStringify(service));
}

/** Go's `json.Marshal(map[string][]*registry.Service)`: names sorted by their UTF-8 bytes. */
export function encodeGoState(services: Iterable<Service>): Uint8Array {
  const byName = new Map<string, Service[]>();
  for (const service of services) {
    const list = byName.get(service.name);
    if (list) list.push(service);
    else byName.set(service.name, [service]);
  }
  const names = [...byName.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts = names.map((name) => `${goStringify(name)}:${goStringify(byName.get(name))}`);
  return utf8.encode(`{${parts.join(',')}}`);
}

/** JSON.stringify with Go's HTML-safe escapes; those characters only ever appear inside strings. */
function goStringify(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// --- Reading ---

/**
 * Parses Go Micro's JSON of one Service and validates it. Throws RollcallError `INVALID_SERVICE`
 * for bytes that are not UTF-8 JSON of a Service, `TOO_LARGE` over the limits.
 */
export function serviceFromGoJson(bytes: Uint8Array, options: GoJsonOptions = {}): Service {
  const maxBytes = options.maxBytes ?? MAX_SERVICE_JSON_BYTES;
  if (bytes.length > maxBytes)
    throw new RollcallError('TOO_LARGE', `service JSON of ${bytes.length} bytes is over the limit of ${maxBytes}`, { adapter: 'gossip' });
  return toService(parse(bytes, 'service'), options.limits);
}

/**
 * Validates one Service already parsed from JSON, as Go's encoding/json reads it into a
 * `registry.Service` (keys case-insensitive, unknown keys ignored). Throws as {@link serviceFromGoJson}.
 */
export function serviceFromGoValue(value: unknown, limits?: SizeLimits): Service {
  return toService(value, limits);
}

/** What a push/pull state held: the valid services, and how many entries were dropped as invalid. */
export interface GoState {
  services: Service[];
  dropped: number;
}

/**
 * Parses Go Micro's push/pull user state (`map[name][]Service`). The state as a whole must be a
 * JSON object within the limits (else RollcallError); each invalid service in it is dropped and
 * counted, so one bad entry costs only itself. A service listed under another name's key is dropped.
 */
export function decodeGoState(bytes: Uint8Array, options: GoJsonOptions & { maxServices?: number } = {}): GoState {
  const { entries, dropped } = decodeGoStateWith(bytes, options, () => undefined);
  return { services: entries.map((e) => e.service), dropped };
}

/**
 * {@link decodeGoState}, also reading something more from each raw Service object (a key Go
 * ignores); `extra` returning `null` drops that Service as invalid.
 */
export function decodeGoStateWith<T>(
  bytes: Uint8Array,
  options: GoJsonOptions & { maxServices?: number },
  extra: (raw: unknown) => T | null,
): { entries: { service: Service; extra: T }[]; dropped: number } {
  const maxBytes = options.maxBytes ?? MAX_GO_STATE_BYTES;
  const maxServices = options.maxServices ?? MAX_GO_STATE_SERVICES;
  if (bytes.length > maxBytes)
    throw new RollcallError('TOO_LARGE', `push/pull state of ${bytes.length} bytes is over the limit of ${maxBytes}`, {
      adapter: 'gossip',
    });
  // Go's empty state: json.Marshal of a nil map is "null".
  const root = bytes.length === 0 ? null : parse(bytes, 'push/pull state');
  if (root === null) return { entries: [], dropped: 0 };
  if (typeof root !== 'object' || Array.isArray(root)) throw invalid('push/pull state must be a JSON object of service lists');
  const entries: { service: Service; extra: T }[] = [];
  let dropped = 0;
  let seen = 0;
  for (const [name, list] of Object.entries(root as Record<string, unknown>)) {
    if (list === null) continue;
    if (!Array.isArray(list)) {
      dropped++;
      continue;
    }
    seen += list.length;
    if (seen > maxServices)
      throw new RollcallError('TOO_LARGE', `push/pull state lists more than ${maxServices} services`, { adapter: 'gossip' });
    for (const entry of list) {
      try {
        const service = toService(entry, options.limits);
        const more = extra(entry);
        if (service.name === name && more !== null) entries.push({ service, extra: more });
        else dropped++;
      } catch (error) {
        if (!(error instanceof RollcallError)) throw error;
        dropped++;
      }
    }
  }
  return { entries, dropped };
}

function parse(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw invalid(`${what} JSON is not UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(`${what} is not JSON: ${(error as Error).message}`);
  }
}

function invalid(message: string): RollcallError {
  return new RollcallError('INVALID_SERVICE', message, { adapter: 'gossip' });
}

function toService(value: unknown, limits: SizeLimits | undefined): Service {
  const folded = fold(value, serviceFields, 0);
  return normalizeService(folded, { adapter: 'gossip', limits, checkEncodedSize: false });
}

// Go's struct fields by JSON name, and how to fold what each holds.
type Shape = Readonly<Record<string, 'plain' | 'map' | 'endpoints' | 'nodes' | 'value' | 'values'>>;
const serviceFields: Shape = { name: 'plain', version: 'plain', metadata: 'map', endpoints: 'endpoints', nodes: 'nodes' };
const endpointFields: Shape = { name: 'plain', request: 'value', response: 'value', metadata: 'map' };
const nodeFields: Shape = { id: 'plain', address: 'plain', metadata: 'map' };
const valueFields: Shape = { name: 'plain', type: 'plain', values: 'values' };
/** normalizeService allows 16 levels of values; one more lets it name the offender. */
const MAX_FOLD_DEPTH = 20;

/**
 * Maps keys onto Go's field names as encoding/json does (exact or ASCII case-insensitive match,
 * the last one in the input wins, unknown keys ignored); a null map value becomes "" as Go stores it.
 * Anything of the wrong type is passed through for normalizeService to name.
 */
function fold(value: unknown, shape: Shape, depth: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth > MAX_FOLD_DEPTH) return value;
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = Object.hasOwn(shape, key) ? key : Object.keys(shape).find((f) => f === asciiLower(key));
    if (field === undefined) continue;
    out[field] = foldField(raw, shape[field] as Shape[string], depth);
  }
  return out;
}

function foldField(raw: unknown, kind: Shape[string], depth: number): unknown {
  switch (kind) {
    case 'plain':
      return raw;
    case 'map': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw))
        Object.defineProperty(out, k, { value: v === null ? '' : v, enumerable: true, writable: true, configurable: true });
      return out;
    }
    case 'value':
      return fold(raw, valueFields, depth + 1);
    case 'values':
    case 'endpoints':
    case 'nodes': {
      if (!Array.isArray(raw)) return raw;
      const shape = kind === 'values' ? valueFields : kind === 'endpoints' ? endpointFields : nodeFields;
      return raw.map((item) => fold(item, shape, depth + 1));
    }
  }
}

function asciiLower(key: string): string {
  return key.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
