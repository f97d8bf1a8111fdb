/**
 * Observability shared by every adapter: `node:diagnostics_channel` channels and the logger
 * plumbing. Publishing costs nothing when nobody subscribes (`hasSubscribers` is checked first).
 *
 * Channels (message shapes are part of the API):
 * - `rollcall:register` `{ adapter, service }` after a registration is stored
 * - `rollcall:deregister` `{ adapter, service }` after nodes were removed
 * - `rollcall:watch:event` `{ adapter, event }` for every event handed to a consumer
 * - `rollcall:watch:resync` `{ adapter, service? }` when a slow consumer gets a resync
 * - `rollcall:drop` `{ adapter, reason, source? }` for malformed or refused network input
 * - `rollcall:backend:error` `{ adapter, error }` for background errors that are retried
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import type { Logger } from './registry.js';

export const channels = {
  register: channel('rollcall:register'),
  deregister: channel('rollcall:deregister'),
  drop: channel('rollcall:drop'),
  backendError: channel('rollcall:backend:error'),
} as const;

export function publish(name: keyof typeof channels, message: object): void {
  const ch = channels[name];
  if (ch.hasSubscribers) ch.publish(message);
}

const noop = () => {};

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/**
 * Binds a logger to an adapter name. pino-style loggers get a child (so the field is structured);
 * anything else gets the field merged into each call.
 */
export function adapterLogger(logger: Logger | undefined, adapter: string): Logger {
  if (!logger) return silentLogger;
  const withChild = logger as Logger & { child?: (bindings: object) => Logger };
  if (typeof withChild.child === 'function') return withChild.child({ registry: adapter });
  const wrap =
    (level: keyof Logger) =>
    (obj: object, msg?: string): void =>
      logger[level]({ registry: adapter, ...obj }, msg);
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}
