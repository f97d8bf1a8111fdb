/**
 * One error family for every adapter. The `code` is the contract: match on it (or use
 * {@link isRollcallError}), not on `instanceof` or the message, because an application may load
 * two copies of rollcall (a bundled one and a direct dependency).
 * @module
 */

/** Stable error codes. Append only: applications branch on these strings. */
export type ErrorCode =
  /** No live instance of the service (Go Micro's `ErrNotFound`). */
  | 'NOT_FOUND'
  /** The service, node or option failed validation; the message names the field. */
  | 'INVALID_SERVICE'
  /** The options (or URL, or environment) given to `createRegistry` are unusable. */
  | 'INVALID_OPTIONS'
  /** The service does not fit a size limit; the message names the limit. */
  | 'TOO_LARGE'
  /** The registry (or registration) was closed. */
  | 'CLOSED'
  /** The backend cannot be reached or is not ready; retrying later may succeed. */
  | 'UNAVAILABLE'
  /** The backend refused the operation (ACL); the message names the missing right. */
  | 'PERMISSION_DENIED'
  /** The operation did not finish within its timeout. */
  | 'TIMEOUT'
  /** The backend answered with something that is not what its protocol promises. */
  | 'BAD_RESPONSE'
  /** A name or address is already claimed on the network (mDNS probing lost the tie-break). */
  | 'CONFLICT'
  /** The adapter or feature is not available (unknown kind, no multicast interface, ...). */
  | 'UNSUPPORTED'
  /**
   * The service exists, but the selector's filters (version, metadata, endpoint) or marks of failed
   * nodes leave no node to pick (Go Micro's `ErrNoneAvailable`); `NOT_FOUND` means no live node at all.
   */
  | 'NONE_AVAILABLE';

const kBrand = Symbol.for('rollcall.error');

/** Codes that describe a passing condition: the same call may succeed later. */
const retryableCodes: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT']);

/** Options of the {@link RollcallError} constructor. */
export interface RollcallErrorOptions {
  /** Which adapter raised it; absent for core errors. */
  adapter?: string;
  /** The underlying error (a socket error, a Consul answer), kept as the standard `error.cause`. @default undefined */
  cause?: unknown;
  /** Overrides the default for the code. @default true for `UNAVAILABLE` and `TIMEOUT`, false otherwise */
  retryable?: boolean;
}

/**
 * The one error class every adapter throws and rejects with. Branch on {@link RollcallError.code}
 * (or {@link isRollcallError}); the message is for people and may change. The message starts with
 * `[rollcall]` and, for adapter errors, `[<adapter>]`, and never contains a token or key.
 */
export class RollcallError extends Error {
  /** Always `'RollcallError'`. */
  override readonly name = 'RollcallError';
  /** What went wrong, stable across versions: the contract (see {@link ErrorCode}). */
  readonly code: ErrorCode;
  /** Whether the same call may succeed later (by default for `UNAVAILABLE` and `TIMEOUT`). */
  readonly retryable: boolean;
  /** The adapter that raised it (`consul`, `mdns`, ...); `undefined` for errors of the core. */
  readonly adapter: string | undefined;

  constructor(code: ErrorCode, message: string, options: RollcallErrorOptions = {}) {
    super(
      options.adapter ? `[rollcall] [${options.adapter}] ${message}` : `[rollcall] ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.retryable = options.retryable ?? retryableCodes.has(code);
    this.adapter = options.adapter;
  }

  /** @internal A brand instead of prototype identity, so instanceof holds across duplicate package copies. */
  get [kBrand](): true {
    return true;
  }

  /** `instanceof RollcallError` is true for an error of any copy of rollcall loaded in the process (it checks the brand). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isBranded(value);
  }
}

function isBranded(value: unknown): value is RollcallError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBrand] === true;
}

/** True when `value` is a rollcall error (from any copy of the package), optionally of one `code`. */
export function isRollcallError(value: unknown, code?: ErrorCode): value is RollcallError {
  return isBranded(value) && (code === undefined || value.code === code);
}

/** The error an aborted operation rejects with, as `fetch` and `events.once` do. */
export function abortError(signal: AbortSignal | undefined): DOMException {
  return new DOMException('The operation was aborted', { name: 'AbortError', cause: signal?.reason });
}

/** Rejects with an `AbortError` if the signal has already fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
