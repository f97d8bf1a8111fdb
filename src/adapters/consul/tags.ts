/**
 * Go Micro's Consul tag codec. Go Micro services discover each other's node metadata, endpoints
 * and version from the Consul service tags (not from `Meta`), so these tags are what makes a
 * rollcall registration visible to Go services and the other way round.
 *
 * Tag forms: `t-`, `e-`, `v-` followed by lowercase hex of zlib-compressed bytes (JSON `{key: value}`
 * per metadata pair, Go Micro endpoint JSON, raw version bytes), and the older plain forms `t=`,
 * `e=`, `v=` followed by the uncompressed text.
 *
 * Pure: no I/O. Decoding never throws; malformed codec tags are dropped and counted.
 * @module
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { Endpoint, Value } from '../../registry.js';

export interface TagValueInput {
  readonly name: string;
  readonly type: string;
  readonly values?: readonly TagValueInput[] | null;
}

export interface TagEndpointInput {
  readonly name: string;
  readonly request?: TagValueInput | null;
  readonly response?: TagValueInput | null;
  readonly metadata?: Readonly<Record<string, string>> | null;
}

export interface TagServiceInput {
  readonly version?: string;
  readonly endpoints?: readonly TagEndpointInput[] | null;
}

export interface TagNodeInput {
  readonly metadata?: Readonly<Record<string, string>> | null;
}

export interface DecodedTags {
  /** Absent when no version tag decoded; Go Micro reads that as `""`. */
  version?: string;
  metadata: Record<string, string>;
  endpoints: Endpoint[];
  /** Codec tags (`t`/`e`/`v` with `-` or `=`) that could not be decoded. Other tags are not counted. */
  dropped: number;
}

/** Inflated size cap per tag: a tag is a few hundred bytes, a zlib bomb would be gigabytes. */
const MAX_INFLATED_BYTES = 1 << 20;
/** Matches the service normaliser, so nothing accepted here is rejected one step later. */
const MAX_VALUE_DEPTH = 16;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Keys are sorted so that an unchanged service yields identical tags on every re-registration:
// Go iterates maps in random order, which makes Consul see a change (and wake every watcher) each time.
function sortedRecord(md: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(md).sort(([a], [b]) => byKey(a, b)));
}

function pack(text: string): string {
  // deflateSync at the default level writes the same zlib header (78 9c) as Go's zlib.NewWriter.
  // The compressed bytes after it differ from Go's, which is fine: every reader inflates.
  return deflateSync(Buffer.from(text, 'utf8')).toString('hex');
}

// Go Micro's JSON shape: lowercase keys in struct order, nil slices and maps as null.
function valueJson(v: TagValueInput | null | undefined): unknown {
  if (!v) return null;
  return { name: v.name, type: v.type, values: v.values ? v.values.map(valueJson) : null };
}

function endpointJson(e: TagEndpointInput): string {
  return JSON.stringify({
    name: e.name,
    request: valueJson(e.request),
    response: valueJson(e.response),
    metadata: e.metadata ? sortedRecord(e.metadata) : null,
  });
}

/** Tags in Go Micro's order: node metadata pairs, endpoints, then the version (always present). */
export function encodeTags(service: TagServiceInput, node: TagNodeInput): string[] {
  const tags: string[] = [];
  for (const [k, v] of Object.entries(sortedRecord(node.metadata ?? {}))) tags.push(`t-${pack(JSON.stringify({ [k]: v }))}`);
  for (const e of service.endpoints ?? []) tags.push(`e-${pack(endpointJson(e))}`);
  tags.push(`v-${pack(service.version ?? '')}`);
  return tags;
}

/** Undefined for anything that is not exactly hex of a complete zlib stream. */
function unpack(hex: string): string | undefined {
  if (!HEX.test(hex)) return undefined;
  try {
    return inflateSync(Buffer.from(hex, 'hex'), { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
  } catch {
    return undefined;
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Go's decoder matches struct fields case-insensitively, preferring an exact match. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : obj[key];
}

/** A string field: missing or null is Go's zero value; any other type fails the whole tag, as in Go. */
function str(x: unknown): string | undefined {
  return x === undefined || x === null ? '' : typeof x === 'string' ? x : undefined;
}

/** `map[string]string`; a null map is empty and a null value is `""`, as Go decodes them. */
function stringMap(x: unknown): Record<string, string> | undefined {
  if (x === undefined || x === null) return {};
  if (!isObject(x)) return undefined;
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(x)) {
    const s = str(v);
    if (s === undefined) return undefined;
    out.push([k, s]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data and never becomes a prototype.
  return Object.fromEntries(out);
}

function toValue(x: unknown, depth: number): Value | null | undefined {
  if (x === undefined || x === null) return null;
  if (!isObject(x) || depth > MAX_VALUE_DEPTH) return undefined;
  const name = str(field(x, 'name'));
  const type = str(field(x, 'type'));
  const rawValues = field(x, 'values');
  if (name === undefined || type === undefined) return undefined;
  let values: Value[] | null = null;
  if (rawValues !== undefined && rawValues !== null) {
    if (!Array.isArray(rawValues)) return undefined;
    values = [];
    for (const item of rawValues) {
      const v = toValue(item, depth + 1);
      if (v === undefined) return undefined;
      // Go keeps a null element as a nil pointer; it describes nothing, so it is left out.
      if (v !== null) values.push(v);
    }
  }
  return { name, type, values };
}

function toEndpoint(x: unknown): Endpoint | undefined {
  if (!isObject(x)) return undefined;
  const name = str(field(x, 'name'));
  const request = toValue(field(x, 'request'), 1);
  const response = toValue(field(x, 'response'), 1);
  const metadata = stringMap(field(x, 'metadata'));
  if (name === undefined || request === undefined || response === undefined || metadata === undefined) return undefined;
  return { name, request, response, metadata };
}

type Kind = 't' | 'e' | 'v';

export function decodeTags(tags: readonly string[]): DecodedTags {
  const metadata = new Map<string, string>();
  const endpoints: Endpoint[] = [];
  let version: string | undefined;
  let dropped = 0;
  // Go Micro releases once wrote every entry in both forms; like Go, the form of the first entry that
  // decodes is used for its kind and the other form is skipped, so nothing is counted twice.
  const form: Partial<Record<Kind, string>> = {};

  for (const tag of Array.isArray(tags) ? tags : []) {
    if (typeof tag !== 'string' || tag.length < 2) continue;
    const kind = tag[0] as Kind;
    const sep = tag[1] as string;
    if ((kind !== 't' && kind !== 'e' && kind !== 'v') || (sep !== '-' && sep !== '=')) continue;
    if (kind === 'v' ? version !== undefined : form[kind] !== undefined && form[kind] !== sep) continue;

    const body = sep === '-' ? unpack(tag.slice(2)) : tag.slice(2);
    if (body === undefined) {
      dropped++;
      continue;
    }
    if (kind === 'v') {
      version = body;
      continue;
    }
    const parsed = parseJson(body);
    const decoded = !parsed.ok ? undefined : kind === 't' ? stringMap(parsed.value) : toEndpoint(parsed.value);
    if (decoded === undefined) {
      dropped++;
      continue;
    }
    form[kind] = sep;
    if (kind === 't') for (const [k, v] of Object.entries(decoded as Record<string, string>)) metadata.set(k, v);
    else endpoints.push(decoded as Endpoint);
  }

  const result: DecodedTags = { metadata: Object.fromEntries(metadata), endpoints, dropped };
  if (version !== undefined) result.version = version;
  return result;
}

// --- rollcall's own tag ---

/**
 * Go Micro keeps no service-level metadata in Consul (its `Meta` is the node's), so rollcall adds
 * one tag of its own for it. Go Micro's decoder skips it: it only reads tags whose first two
 * characters are `t-`, `e-`, `v-` or their `=` forms.
 */
const SERVICE_METADATA_PREFIX = 'rollcall-s-';

/** The tag carrying service metadata, or none when there is nothing to carry. */
export function encodeServiceMetadata(metadata: Readonly<Record<string, string>> | null | undefined): string[] {
  if (!metadata || Object.keys(metadata).length === 0) return [];
  return [SERVICE_METADATA_PREFIX + pack(JSON.stringify(sortedRecord(metadata)))];
}

export function decodeServiceMetadata(tags: readonly string[]): { metadata: Record<string, string>; dropped: number } {
  for (const tag of Array.isArray(tags) ? tags : []) {
    if (typeof tag !== 'string' || !tag.startsWith(SERVICE_METADATA_PREFIX)) continue;
    const body = unpack(tag.slice(SERVICE_METADATA_PREFIX.length));
    const parsed = body === undefined ? undefined : parseJson(body);
    const metadata = parsed?.ok ? stringMap(parsed.value) : undefined;
    return metadata === undefined ? { metadata: {}, dropped: 1 } : { metadata, dropped: 0 };
  }
  return { metadata: {}, dropped: 0 };
}
