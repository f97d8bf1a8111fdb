/**
 * The keyring (keyring.go): every installed key is tried on receive, the primary one encrypts,
 * so a cluster can rotate keys without a partition (install everywhere, switch primary, remove).
 * @module
 */

/** AES-128, -192 or -256: memberlist accepts exactly these key sizes. */
export function validateKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new RangeError(`a gossip key is 16, 24 or 32 bytes, not ${key.length}`);
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export class Keyring {
  // Primary first: it is the likeliest to open a packet, so it is tried first.
  private list: Uint8Array[] = [];

  /** `primary` defaults to the first key. */
  constructor(keys: readonly Uint8Array[], primary: Uint8Array | undefined = keys[0]) {
    if (primary === undefined) throw new RangeError('a keyring needs at least one key');
    for (const k of keys) this.addKey(k);
    this.addKey(primary);
    this.useKey(primary);
  }

  /** All keys, primary first. */
  get keys(): readonly Uint8Array[] {
    return this.list;
  }

  get primary(): Uint8Array {
    return this.list[0] as Uint8Array;
  }

  /** Installs a key for decryption; a key already installed is left where it is. */
  addKey(key: Uint8Array): void {
    validateKey(key);
    if (!this.list.some((k) => same(k, key))) this.list.push(Uint8Array.from(key));
  }

  /** Makes an installed key the primary one. */
  useKey(key: Uint8Array): void {
    const i = this.list.findIndex((k) => same(k, key));
    if (i < 0) throw new RangeError('the key is not installed');
    const [k] = this.list.splice(i, 1);
    this.list.unshift(k as Uint8Array);
  }

  /** Removes a key that is not the primary one. */
  removeKey(key: Uint8Array): void {
    if (same(this.primary, key)) throw new RangeError('the primary key cannot be removed');
    this.list = this.list.filter((k) => !same(k, key));
  }
}
