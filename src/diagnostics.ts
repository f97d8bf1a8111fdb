/**
 * Observability shared by every adapter: the `node:diagnostics_channel` channels, all declared in
 * {@link channels} with the message each carries ({@link DiagnosticsMessages}), and the logger
 * plumbing. Publishing costs nothing when nobody subscribes (`hasSubscribers` is checked first).
 * @module
 */
import { type Channel, channel } from 'node:diagnostics_channel';
import type { Logger, Service, WatchEvent } from './registry.js';

/** What each channel publishes (the shapes are part of the API). */
export interface DiagnosticsMessages {
  /** `rollcall:register`: after a registration is stored. */
  register: { adapter: string; service: Service };
  /**
   * `rollcall:deregister`: after this process removed nodes: `registry.deregister()`,
   * `registration.deregister()` (or disposal) and the goodbyes of `registry.close()`.
   */
  deregister: { adapter: string; service: Service };
  /** `rollcall:watch:event`: every event handed to a consumer. */
  watchEvent: { adapter: string; event: WatchEvent };
  /** `rollcall:watch:resync`: a slow consumer gets a resync (`service`: the watch's scope, if any). */
  watchResync: { adapter: string; service: string | undefined };
  /** `rollcall:drop`: malformed or refused network input, dropped and counted. */
  drop: { adapter: string; reason: string; source: string | undefined };
  /** `rollcall:backend:error`: a background error that is retried. */
  backendError: { adapter: string; error: unknown };
}

/** Every channel rollcall publishes on, by the key its message type has in {@link DiagnosticsMessages}. */
export const channels: { readonly [Name in keyof DiagnosticsMessages]: Channel } = Object.freeze({
  register: channel('rollcall:register'),
  deregister: channel('rollcall:deregister'),
  watchEvent: channel('rollcall:watch:event'),
  watchResync: channel('rollcall:watch:resync'),
  drop: channel('rollcall:drop'),
  backendError: channel('rollcall:backend:error'),
});

/** Publishes `message` on the channel `name`, if anyone listens. */
export function publish<Name extends keyof DiagnosticsMessages>(name: Name, message: DiagnosticsMessages[Name]): void {
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
