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
  register: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** The service as stored: normalised, with its default node ids filled in. */
    service: Service;
  };
  /**
   * `rollcall:deregister`: after this process removed nodes: `registry.deregister()`,
   * `registration.deregister()` (or disposal) and the goodbyes of `registry.close()`.
   */
  deregister: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** The nodes removed (only those, not every node of the service). */
    service: Service;
  };
  /** `rollcall:watch:event`: every event handed to a consumer. */
  watchEvent: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** The event as the consumer receives it (frozen; shared with the consumer). */
    event: WatchEvent;
  };
  /** `rollcall:watch:resync`: a slow consumer gets a resync (`service`: the watch's scope, if any). */
  watchResync: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** The watched service name, or `undefined` for a watch of every service. */
    service: string | undefined;
  };
  /** `rollcall:drop`: malformed or refused network input, dropped and counted. */
  drop: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** Why the input was refused, in words (`"TXT record unreadable"`); not a stable code. */
    reason: string;
    /** Where it came from (`host:port` of the sender), when the adapter knows. */
    source: string | undefined;
  };
  /** `rollcall:backend:error`: a background error that is retried. */
  backendError: {
    /** The registry's kind (`memory`, `mdns`, `consul`, ...). */
    adapter: string;
    /** What failed, usually a `RollcallError` (`UNAVAILABLE`, `BAD_RESPONSE`, ...). */
    error: unknown;
  };
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
