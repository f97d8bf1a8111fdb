/**
 * Exit codes scripts can branch on, and the one line an error becomes. The codes are the CLI's
 * contract (docs/cli.md): append only.
 * @module
 */
import { isRollcallError } from '../index.js';

/** Exit statuses of the `rollcall` command. */
export const ExitCode = {
  /** The command did what it was asked. */
  OK: 0,
  /** Nothing to show: the service is not registered, or there are no services or members. */
  NOT_FOUND: 1,
  /** The command line (or the registry configuration) is wrong, or the adapter cannot do this. */
  USAGE: 2,
  /** The registry did not answer in time, could not be reached, or refused. */
  UNAVAILABLE: 3,
  /** A bug in rollcall: the message says what happened. */
  INTERNAL: 4,
} as const;

export type ExitStatus = (typeof ExitCode)[keyof typeof ExitCode];

/** A problem with the command line: exits 2 with this message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An expected outcome that ends the command with a status other than 0, with a message for stderr. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    message: string,
    readonly status: ExitStatus,
    readonly code?: string,
  ) {
    super(message);
  }
}

const usageCodes = new Set(['INVALID_OPTIONS', 'INVALID_SERVICE', 'TOO_LARGE', 'UNSUPPORTED', 'CLOSED']);

/** The exit status and stable code for an error thrown by a command. */
export function classify(error: unknown): { status: ExitStatus; code: string } {
  if (error instanceof UsageError) return { status: ExitCode.USAGE, code: 'USAGE' };
  if (error instanceof CommandFailure) return { status: error.status, code: error.code ?? 'FAILED' };
  if (isRollcallError(error)) {
    if (error.code === 'NOT_FOUND') return { status: ExitCode.NOT_FOUND, code: error.code };
    if (usageCodes.has(error.code)) return { status: ExitCode.USAGE, code: error.code };
    // UNAVAILABLE, TIMEOUT, PERMISSION_DENIED, BAD_RESPONSE, CONFLICT: the registry's side.
    return { status: ExitCode.UNAVAILABLE, code: error.code };
  }
  if (error instanceof Error && error.name === 'AbortError') return { status: ExitCode.UNAVAILABLE, code: 'TIMEOUT' };
  return { status: ExitCode.INTERNAL, code: 'INTERNAL' };
}

/** The error as one line: rollcall's own `[rollcall]` prefix dropped, line breaks folded. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .replace(/^\[rollcall\] /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
