/**
 * DNS names for mDNS: label limits, case folding, and the instance, subtype and host labels a
 * node is published under. Any rollcall name or node id (dots, 255 bytes, unicode) becomes a
 * label of at most 63 bytes; names that cannot be used verbatim carry a hash of the original, so
 * two different inputs never share a label.
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
import { hasAsciiUpper, isAscii } from '../../plain-text.js';

/** RFC 1035 §2.3.4; RFC 6763 §4.1.1 repeats it for instance names. */
export const MAX_LABEL_BYTES = 63;
/** A whole name on the wire, length bytes included. */
export const MAX_NAME_BYTES = 255;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Folds a name for comparison: mDNS names compare case-insensitively for ASCII only
 * (RFC 6762 §16), and the trailing root dot is optional in every API we meet.
 */
export function foldName(name: string): string {
  return foldAscii(name.endsWith('.') ? name.slice(0, -1) : name);
}

/** A-Z to a-z and nothing else: DNS compares names (and DNS-SD TXT keys) case-insensitively for ASCII only. */
export function foldAscii(text: string): string {
  // Loops, not patterns: names are folded on every packet's path, mostly in code gone cold (see plain-text.ts).
  if (!hasAsciiUpper(text)) return text;
  // toLowerCase folds letters beyond ASCII too; on all-ASCII text it is exactly this folding.
  return isAscii(text) ? text.toLowerCase() : text.replace(ASCII_UPPER_RUNS, lower);
}

// Module-level patterns: a regular expression literal is a new object each time it is evaluated.
const ASCII_UPPER_RUNS = /[A-Z]+/g;
const lower = (s: string) => s.toLowerCase();

/** Lowercase base32 of SHA-256: letters and digits only, so a hash is a valid label anywhere. */
export function hashLabel(text: string, chars = 10): string {
  // UTF-16 code units, not UTF-8: strings with different lone surrogates must not hash alike.
  const digest = createHash('sha256').update(Buffer.from(text, 'utf16le')).digest();
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= chars) break;
  }
  return out;
}

/** A random lowercase base32 tag (per registry), so host names of two processes never meet. */
export function randomTag(chars = 6): string {
  return hashLabel(randomBytes(16).toString('hex'), chars);
}

/** The longest prefix of `text` that fits `maxBytes` of UTF-8 without splitting a character. */
export function utf8Truncate(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += ch.length;
  }
  return text.slice(0, end);
}

/** A surrogate without its pair: not encodable as UTF-8 (it would become U+FFFD on the wire). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * A label is usable verbatim when it fits and holds no dot (dns-packet, like most DNS libraries,
 * splits names on dots and has no escape for a dot inside a label), no backslash and no control
 * character.
 */
export function isPlainLabel(label: string, maxBytes = MAX_LABEL_BYTES): boolean {
  return label.length > 0 && Buffer.byteLength(label) <= maxBytes && !/[.\\\p{Cc}]/u.test(label) && !LONE_SURROGATE.test(label);
}

function sanitize(text: string): string {
  return text.replace(LONE_SURROGATES, '-').replace(/[.\\\p{Cc}]/gu, '-');
}

/** `text` itself when plain and within `maxBytes`, else a readable prefix plus `~` and a hash of all of it. */
export function safeLabel(text: string, maxBytes = MAX_LABEL_BYTES): string {
  if (isPlainLabel(text, maxBytes)) return text;
  const tag = hashLabel(text, 10);
  const prefix = utf8Truncate(sanitize(text), maxBytes - tag.length - 1);
  return `${prefix}~${tag}`;
}

/** The DNS-SD subtype label of a service name: `_greeter`, or `_<prefix>~<hash>` when the name cannot be used as is. */
export function subtypeLabel(serviceName: string): string {
  return `_${safeLabel(serviceName, MAX_LABEL_BYTES - 1)}`;
}

const RENAME_SUFFIX = / \((\d+)\)$/;

/**
 * The label to try after a conflict (RFC 6763 §4.1.1 leaves the scheme to us; this is the
 * "Name (2)" style users know from Bonjour). Stays within 63 bytes by shortening the base.
 */
export function renamedLabel(label: string, attempt: number): string {
  const base = label.replace(RENAME_SUFFIX, '');
  const suffix = ` (${attempt})`;
  return utf8Truncate(base, MAX_LABEL_BYTES - suffix.length) + suffix;
}

/** The conflict count a label carries (`Name (3)` -> 3), 1 for an original label. */
export function renameAttempt(label: string): number {
  const match = RENAME_SUFFIX.exec(label);
  return match ? Number(match[1]) : 1;
}

/**
 * Checks a whole dotted name for the wire: every label 1..63 bytes and the encoded name within
 * 255 bytes. Returns why not, or undefined.
 */
export function nameProblem(name: string): string | undefined {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed.length === 0) return 'is empty';
  let total = 1;
  for (const label of trimmed.split('.')) {
    const bytes = Buffer.byteLength(label);
    if (bytes === 0) return 'has an empty label';
    if (bytes > MAX_LABEL_BYTES) return `has a label of ${bytes} bytes, over the DNS limit of ${MAX_LABEL_BYTES}`;
    total += bytes + 1;
  }
  if (total > MAX_NAME_BYTES) return `encodes to ${total} bytes, over the DNS limit of ${MAX_NAME_BYTES}`;
  return undefined;
}

/** A host label derived from an address, readable in avahi-browse: `rc-169-254-231-1-k3j2ab`. */
export function hostLabel(ip: string | undefined, tag: string): string {
  const readable = ip === undefined ? 'any' : ip.replace(/%.*$/, '').replace(/[.:]/g, '-');
  return `rc-${readable}-${tag}`;
}
