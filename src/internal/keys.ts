/**
 * Composite map keys: parts joined with NUL, which no name, version or node id can hold (service
 * checks refuse control characters), so `a\0b` never collides with another split of the same text.
 * @module
 */

/** One key for `parts`, in order. */
export function joinKey(...parts: string[]): string {
  return parts.join('\u0000');
}

/** The parts of a key made by {@link joinKey}. */
export function splitKey(key: string): string[] {
  return key.split('\u0000');
}
