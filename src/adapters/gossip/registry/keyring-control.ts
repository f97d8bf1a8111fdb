/**
 * Key rotation on a running gossip member, as serf's `keys` command does it: install the new key
 * on every member, make it the primary one on each member in turn, then remove the old one
 * everywhere. Every installed key decrypts, so members on either primary understand each other
 * throughout, and no partition opens.
 * @module
 */
import { RollcallError } from '../../../errors.js';
import type { Keyring } from '../wire/keyring.js';

/** A member's keyring, changed while it runs (see {@link GossipRegistryHandle.keyring}). */
export interface GossipKeyring {
  /** Installed keys as base64, the primary (encrypting) one first; empty without encryption. */
  list(): string[];
  /** Installs a key (16, 24 or 32 bytes, or their base64) for decryption; an installed key stays where it is. */
  install(key: Uint8Array | string): void;
  /** Makes an installed key the primary one: what this member sends from now on is encrypted with it. */
  use(key: Uint8Array | string): void;
  /** Removes an installed key; the primary one cannot be removed (`use` another first). */
  remove(key: Uint8Array | string): void;
}

const fail = (message: string): never => {
  throw new RollcallError('INVALID_OPTIONS', `gossip keyring: ${message}`, { adapter: 'gossip' });
};

function keyBytes(key: Uint8Array | string): Uint8Array {
  const bytes =
    typeof key === 'string'
      ? Uint8Array.from(Buffer.from(key, 'base64'))
      : key instanceof Uint8Array
        ? key
        : fail('a key is bytes or base64');
  if (![16, 24, 32].includes(bytes.length)) fail(`a key is 16, 24 or 32 bytes, not ${bytes.length}`);
  return bytes;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** The control over `keyring`, or one that refuses every change when the member runs without encryption. */
export function keyringControl(keyring: Keyring | undefined): GossipKeyring {
  const need = (): Keyring =>
    keyring ??
    (() => {
      throw new RollcallError('UNSUPPORTED', 'gossip keyring: this member runs without encryption; start it with the `keyring` option', {
        adapter: 'gossip',
      });
    })();
  return Object.freeze({
    list: () => (keyring?.keys ?? []).map((k) => Buffer.from(k).toString('base64')),
    install: (key: Uint8Array | string) => need().addKey(keyBytes(key)),
    use: (key: Uint8Array | string) => {
      const ring = need();
      const bytes = keyBytes(key);
      if (!ring.keys.some((k) => same(k, bytes))) fail('the key is not installed; install it first');
      ring.useKey(bytes);
    },
    remove: (key: Uint8Array | string) => {
      const ring = need();
      const bytes = keyBytes(key);
      if (same(ring.primary, bytes)) fail('the primary key cannot be removed; use another key first');
      ring.removeKey(bytes);
    },
  });
}
