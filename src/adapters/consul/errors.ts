/**
 * Consul's answers and transport failures as rollcall errors. The code is what callers branch on;
 * the message says what to change. Messages carry Consul's text (trimmed) but never the token,
 * which only ever travels in a header.
 * @module
 */
import { RollcallError } from '../../errors.js';

const adapter = 'consul';

/** What a failed call was doing, for messages. */
export interface CallContext {
  /** e.g. `register "web-1"` or `GET /v1/health/service/web`. */
  what: string;
  /** The ACL right the call needs (`service:write on "web"`), named in PERMISSION_DENIED. */
  right?: string;
  /** Code for a 400: Consul refused what we sent (a registration it finds invalid). */
  badRequest?: 'INVALID_SERVICE' | 'BAD_RESPONSE';
  /** Whether a token was configured (the message for a 403 differs). */
  hasToken: boolean;
}

/** Consul's error body, made safe for a message: one line, bounded, without the token. */
export function consulText(text: string, token?: string): string {
  let t = text.replace(/\s+/g, ' ').trim();
  if (token) t = t.split(token).join('<token>');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t || '(empty body)';
}

/** The error for a non-2xx answer. */
export function statusError(status: number, text: string, agent: string, ctx: CallContext, token?: string): RollcallError {
  const said = consulText(text, token);
  const where = `${ctx.what} on ${agent}`;
  if (status === 403) {
    // Consul 1.8 says only "Permission denied"; later versions name the right ("lacks permission
    // 'service:write' on \"web\""). Prefer Consul's words, else name what this call needs.
    const named = /lacks permission '([^']+)'(?: on "([^"]*)")?/.exec(text);
    const right = named ? `${named[1]}${named[2] !== undefined ? ` on "${named[2]}"` : ''}` : ctx.right;
    const why = /ACL not found/i.test(text)
      ? 'the token is not known to Consul (ACL not found)'
      : ctx.hasToken
        ? `the token lacks ${right ?? 'the right for this call'}`
        : `no token was given and anonymous access lacks ${right ?? 'the right for this call'} (set token or CONSUL_HTTP_TOKEN)`;
    return new RollcallError('PERMISSION_DENIED', `${where}: permission denied: ${why} (Consul: ${said})`, { adapter });
  }
  if (status === 429 || status === 503) {
    return new RollcallError('UNAVAILABLE', `${where}: Consul is rate limiting or not ready (${status}: ${said})`, { adapter });
  }
  if (status >= 500) {
    // No leader during an election, a lost RPC to a server, "No path to datacenter": all pass.
    return new RollcallError('UNAVAILABLE', `${where}: Consul failed (${status}: ${said})`, { adapter });
  }
  if (status === 400 && ctx.badRequest === 'INVALID_SERVICE') {
    return new RollcallError('INVALID_SERVICE', `${where}: Consul refused the service definition (${said})`, { adapter });
  }
  return new RollcallError('BAD_RESPONSE', `${where}: unexpected answer ${status} (${said})`, { adapter });
}

/** A body that is not what the endpoint promises. */
export function shapeError(what: string, agent: string, problem: string): RollcallError {
  return new RollcallError('BAD_RESPONSE', `${what} on ${agent}: ${problem}`, { adapter });
}

const untrusted = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** Errors of requests that got no HTTP answer at all, as opposed to an agent answering 5xx. */
const noAnswer = new WeakSet<object>();

/** True when the agent did not answer (refused, reset, timed out): another agent may. */
export function isUnreachable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && noAnswer.has(error) && (error as RollcallError).retryable;
}

/**
 * A connection the agent ended (FIN or RST), as opposed to one undici closed itself: idle timeout,
 * an aborted request, the pool being destroyed (all `UND_ERR_INFO` or `UND_ERR_DESTROYED`).
 */
export function closedByAgent(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** The error for a request that got no HTTP answer. */
export function transportError(error: unknown, agent: string, what: string): RollcallError {
  const mapped = mapTransport(error, agent, what);
  noAnswer.add(mapped);
  return mapped;
}

function mapTransport(error: unknown, agent: string, what: string): RollcallError {
  const e = error as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const where = `${what} on ${agent}`;
  if (code !== undefined && untrusted.has(code)) {
    return new RollcallError(
      'UNAVAILABLE',
      `${where}: the agent's TLS certificate is not trusted (${code}); give the CA that signed it (tls.ca or CONSUL_CACERT)`,
      { adapter, cause: error, retryable: false },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new RollcallError(
      'UNAVAILABLE',
      `${where}: the agent's TLS certificate does not name this host (${code}); set tls.serverName or CONSUL_TLS_SERVER_NAME`,
      { adapter, cause: error, retryable: false },
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new RollcallError('UNAVAILABLE', `${where}: the agent's TLS certificate is not valid now (${code})`, {
      adapter,
      cause: error,
      retryable: false,
    });
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new RollcallError('BAD_RESPONSE', `${where}: the answer exceeds the size limit`, { adapter, cause: error });
  }
  if (code?.startsWith('HPE_') || (error as { name?: unknown }).name === 'HTTPParserError') {
    return new RollcallError('BAD_RESPONSE', `${where}: the answer is not valid HTTP (${code ?? e.message})`, { adapter, cause: error });
  }
  if (code === 'EPROTO' || code?.startsWith('ERR_SSL_')) {
    return new RollcallError('UNAVAILABLE', `${where}: TLS handshake failed (${code}); does the agent speak HTTPS on this port?`, {
      adapter,
      cause: error,
    });
  }
  const detail = code ?? (typeof e.message === 'string' ? e.message : String(error));
  return new RollcallError('UNAVAILABLE', `${where}: cannot reach Consul (${detail})`, { adapter, cause: error });
}

/** The error for a request the deadline cut short. */
export function deadlineError(agent: string, what: string, ms: number): RollcallError {
  const error = new RollcallError('UNAVAILABLE', `${what} on ${agent}: no answer within ${Math.round(ms)} ms`, { adapter });
  noAnswer.add(error);
  return error;
}

/** Errors that will not go away by retrying with the same configuration. */
export function isFatal(error: unknown): boolean {
  return error instanceof RollcallError && (error.code === 'PERMISSION_DENIED' || (error.code === 'UNAVAILABLE' && !error.retryable));
}
