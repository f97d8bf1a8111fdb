/**
 * `host:port` text, as Go Micro writes node addresses: IPv6 in brackets (`[::1]:80`), zone ids
 * allowed. The one parser; `service.ts` re-exports both functions as public API.
 * @module
 */

/**
 * Splits `host:port` / `[v6]:port`; no validation beyond the shape (the port is text, not checked
 * for range). Returns `undefined`, never throws, for anything else (`host`, `::1:80`, `[::1]80`).
 */
export function splitHostPort(address: string):
  | {
      /** The host without brackets: a name, an IPv4 address, or an IPv6 address with its `%zone`. */
      host: string;
      /** The text after the last colon (after `]:` for IPv6), as written. */
      port: string;
    }
  | undefined {
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') return undefined;
    return { host: address.slice(1, close), port: address.slice(close + 2) };
  }
  const colon = address.lastIndexOf(':');
  if (colon <= 0 || address.indexOf(':') !== colon) return undefined;
  return { host: address.slice(0, colon), port: address.slice(colon + 1) };
}

/** Joins a host and port, bracketing IPv6. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
