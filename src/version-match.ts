/**
 * Version filters for the selector: exact versions, semver ranges (npm's syntax: `^1.2.0`, `~1.2`,
 * `>=1.0.0 <2.0.0`, `1.x`, `1.2.3 - 2.0.0`, `||`), `*` and `latest`. A version that is not semver
 * (`""`, `"v2-beta"`, `"latest"` itself) only ever matches a filter that spells it exactly.
 * @module
 */

/** A parsed semantic version: `[major, minor, patch]` and the prerelease identifiers. */
interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

type Operator = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  readonly op: Operator;
  readonly version: SemVer;
}

/** One `||` alternative: every comparator must hold. */
type ComparatorSet = readonly Comparator[];

const MAX_COMPONENT = Number.MAX_SAFE_INTEGER;
const versionPattern =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** A partial version in a range: `1`, `1.2`, `1.x`, `1.2.*`, `1.2.3-rc.1`. */
const partialPattern =
  /^v?(0|[1-9]\d*|[xX*])(?:\.(0|[1-9]\d*|[xX*])(?:\.(0|[1-9]\d*|[xX*])(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-.]+)?)?)?$/;
/** Ranges longer than this are refused: a filter comes from configuration, not from the network, but stays cheap. */
const MAX_RANGE_LENGTH = 256;

/** Parses a full semantic version (an optional leading `v` is allowed); `undefined` when it is not one. */
export function parseSemver(text: string): SemVer | undefined {
  if (text.length > MAX_RANGE_LENGTH) return undefined;
  const m = versionPattern.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  if (major > MAX_COMPONENT || minor > MAX_COMPONENT || patch > MAX_COMPONENT) return undefined;
  const prerelease = m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  return { major, minor, patch, prerelease };
}

/** Semver precedence: negative when `a` comes first. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  // A release outranks its prereleases.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const v = (major: number, minor: number, patch: number, prerelease: readonly (string | number)[] = []): SemVer => ({
  major,
  minor,
  patch,
  prerelease,
});

interface Partial {
  major: number | undefined;
  minor: number | undefined;
  patch: number | undefined;
  prerelease: readonly (string | number)[];
}

function parsePartial(text: string): Partial | undefined {
  const m = partialPattern.exec(text);
  if (!m) return undefined;
  const part = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = part(m[1]);
  const minor = major === undefined ? undefined : part(m[2]);
  const patch = minor === undefined ? undefined : part(m[3]);
  const prerelease = patch !== undefined && m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  return { major, minor, patch, prerelease };
}

/** The lowest version a partial stands for (`1.2` -> `1.2.0`). */
const floor = (p: Partial): SemVer => v(p.major ?? 0, p.minor ?? 0, p.patch ?? 0, p.prerelease);

/** The first version past a partial (`1.2` -> `1.3.0-0`, `1` -> `2.0.0-0`); undefined for `*`. */
function ceiling(p: Partial): SemVer | undefined {
  if (p.major === undefined) return undefined;
  if (p.minor === undefined) return v(p.major + 1, 0, 0, [0]);
  if (p.patch === undefined) return v(p.major, p.minor + 1, 0, [0]);
  return undefined;
}

function comparatorsOf(token: string): Comparator[] | undefined {
  const m = /^(\^|~>?|[<>]=?|=)?\s*(.*)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = parsePartial(m[2] as string);
  if (!p) return undefined;
  const lo = floor(p);
  const exact = p.patch !== undefined;
  switch (op) {
    case '':
    case '=': {
      if (exact) return [{ op: '=', version: lo }];
      const hi = ceiling(p);
      return hi
        ? [
            { op: '>=', version: lo },
            { op: '<', version: hi },
          ]
        : [];
    }
    case '^': {
      // The leftmost non-zero component may not change.
      let hi: SemVer;
      if (p.major === undefined) return [];
      if (p.major > 0 || p.minor === undefined) hi = v(p.major + 1, 0, 0, [0]);
      else if (p.minor > 0 || p.patch === undefined) hi = v(0, p.minor + 1, 0, [0]);
      else hi = v(0, 0, p.patch + 1, [0]);
      return [
        { op: '>=', version: lo },
        { op: '<', version: hi },
      ];
    }
    case '~':
    case '~>': {
      if (p.major === undefined) return [];
      const hi = p.minor === undefined ? v(p.major + 1, 0, 0, [0]) : v(p.major, p.minor + 1, 0, [0]);
      return [
        { op: '>=', version: lo },
        { op: '<', version: hi },
      ];
    }
    case '>':
      if (exact) return [{ op: '>', version: lo }];
      return ceiling(p) ? [{ op: '>=', version: ceiling(p) as SemVer }] : [{ op: '<', version: v(0, 0, 0, [0]) }];
    case '>=':
      return [{ op: '>=', version: lo }];
    case '<':
      return [{ op: '<', version: p.major === undefined ? v(0, 0, 0, [0]) : lo }];
    case '<=':
      if (exact) return [{ op: '<=', version: lo }];
      return ceiling(p) ? [{ op: '<', version: ceiling(p) as SemVer }] : [];
    default:
      return undefined;
  }
}

/** A parsed range, or undefined when `text` is not one. */
function parseRange(text: string): ComparatorSet[] | undefined {
  if (text.length === 0 || text.length > MAX_RANGE_LENGTH) return undefined;
  const sets: ComparatorSet[] = [];
  for (const alternative of text.split('||')) {
    const trimmed = alternative.trim().replace(/([<>=~^]+)\s+/g, '$1');
    if (trimmed === '') {
      sets.push([]);
      continue;
    }
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(trimmed);
    if (hyphen) {
      const a = parsePartial(hyphen[1] as string);
      const b = parsePartial(hyphen[2] as string);
      if (!a || !b) return undefined;
      const set: Comparator[] = [{ op: '>=', version: floor(a) }];
      if (b.patch !== undefined) set.push({ op: '<=', version: floor(b) });
      else if (ceiling(b)) set.push({ op: '<', version: ceiling(b) as SemVer });
      sets.push(set);
      continue;
    }
    const set: Comparator[] = [];
    for (const token of trimmed.split(/\s+/)) {
      const comparators = comparatorsOf(token);
      if (!comparators) return undefined;
      set.push(...comparators);
    }
    sets.push(set);
  }
  return sets;
}

function holds(c: Comparator, version: SemVer): boolean {
  const d = compareSemver(version, c.version);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    default:
      return d === 0;
  }
}

function satisfiesSet(version: SemVer, set: ComparatorSet): boolean {
  for (const c of set) if (!holds(c, version)) return false;
  if (version.prerelease.length === 0) return true;
  // As npm does: a prerelease matches only a range that names a prerelease of the same release.
  return set.some(
    (c) =>
      c.version.prerelease.length > 0 &&
      !(c.version.prerelease.length === 1 && c.version.prerelease[0] === 0 && c.op === '<') &&
      c.version.major === version.major &&
      c.version.minor === version.minor &&
      c.version.patch === version.patch,
  );
}

/**
 * A compiled version filter. `matches(version)` says whether a service of that version passes;
 * `latest` filters need every live version at once, so they go through {@link VersionFilter.pick}.
 */
export interface VersionFilter {
  /** The filter as given. */
  readonly text: string;
  /** Whether a service of `version` passes (for `latest`: whether it is the given latest one). */
  matches(version: string, latest?: string): boolean;
  /** For `latest`: the one live version to keep; `undefined` for every other filter. */
  pick(versions: Iterable<string>): string | undefined;
}

/** The version `latest` stands for among `versions`: the highest semver, else the last in natural order. */
export function latestOf(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestSemver: SemVer | undefined;
  let bestPlain: string | undefined;
  for (const version of versions) {
    if (version === 'latest') return version;
    const parsed = parseSemver(version);
    if (parsed) {
      if (!bestSemver || compareSemver(parsed, bestSemver) > 0 || (compareSemver(parsed, bestSemver) === 0 && version > (best as string))) {
        bestSemver = parsed;
        best = version;
      }
    } else if (bestPlain === undefined || version.localeCompare(bestPlain, 'en', { numeric: true }) > 0) bestPlain = version;
  }
  return best ?? bestPlain;
}

/**
 * Compiles a version filter:
 * - a version that a live service spells exactly always matches it (`""` matches only unversioned
 *   services, as Go Micro registers them; `"v2-beta"` only itself);
 * - `*` matches every version, semver or not, including `""`;
 * - `latest` keeps only the highest live version (semver precedence, releases above their
 *   prereleases; when no live version is semver, the last in natural order; a version literally
 *   named `latest` wins);
 * - any other semver range (`1.2.3`, `^1.2`, `~1.2.0`, `>=1 <3`, `1.x`, `1.0.0 - 1.4.0`, `a || b`)
 *   matches the semver versions inside it (`v1.2.3` counts as `1.2.3`); versions that are not
 *   semver never fall inside a range.
 */
export function versionFilter(text: string): VersionFilter {
  if (text === 'latest') {
    return {
      text,
      matches: (version, latest) => version === latest,
      pick: latestOf,
    };
  }
  if (text.trim() === '*') return { text, matches: () => true, pick: () => undefined };
  const range = parseRange(text);
  const cache = new Map<string, boolean>();
  return {
    text,
    matches(version) {
      if (version === text) return true;
      if (!range) return false;
      let known = cache.get(version);
      if (known === undefined) {
        const parsed = parseSemver(version);
        known = parsed !== undefined && range.some((set) => satisfiesSet(parsed, set));
        // Live versions are few; the bound only guards against a registry full of distinct ones.
        if (cache.size < 1024) cache.set(version, known);
      }
      return known;
    },
    pick: () => undefined,
  };
}

/** Whether `text` parses as a semver range (an exact version counts). */
export function isSemverRange(text: string): boolean {
  return parseRange(text) !== undefined;
}
