/**
 * Graceful shutdown on SIGINT/SIGTERM, opt-in: say goodbye (deregister), wait for callers to move
 * away, close the registry within a deadline, then let the process die of the signal it got, so
 * its exit status is the one a shell or an orchestrator expects (130 for SIGINT, 143 for SIGTERM).
 * @module
 */
import { constants } from 'node:os';
import { type Clock, systemClock, type Timer } from './internal/clock.js';
import type { Logger, Registration, Registry } from './registry.js';
import { checkDuration } from './time.js';

/** Options of {@link gracefulShutdown}: what to stop, in which order, and how long it may take. */
export interface ShutdownOptions {
  /** The registry to close (closing deregisters whatever it still keeps alive). */
  registry: Registry;
  /**
   * Registrations to deregister first, before the drain delay: callers stop being sent here while
   * the registry stays usable for this process's own lookups. Without them the registry is closed
   * first (its goodbye for everything it registered), then the drain runs.
   * @default [] (close the registry first)
   */
  registrations?: readonly Registration[];
  /**
   * Signals that start the shutdown.
   * @default ['SIGINT', 'SIGTERM']
   */
  signals?: readonly NodeJS.Signals[];
  /**
   * How long to keep serving after the goodbye, in milliseconds, so that callers whose caches still
   * name this process move away before it stops answering.
   * @default 2000
   */
  drainDelay?: number;
  /**
   * The longest the whole shutdown may take from the first signal, in milliseconds (goodbye, drain,
   * `onDrained` and close). Past it the process exits anyway, for instance while an unreachable
   * backend leaves the goodbye hanging. Keep it under the orchestrator's grace period (Docker: 10 s).
   * @default 8000
   */
  timeout?: number;
  /** Called at the first signal, before the goodbye: stop taking new work (fail readiness checks). @default undefined */
  onSignal?: (signal: NodeJS.Signals) => void | Promise<void>;
  /** Called after the drain delay, before the registry closes: close your server here. @default undefined */
  onDrained?: () => void | Promise<void>;
  /**
   * Whether the process ends once the shutdown is done, by raising the signal again (the exit status
   * a shell expects); `false` leaves that to the caller, for instance to run more cleanup.
   * @default true
   */
  exit?: boolean;
  /** Told about each step and about anything that failed or timed out. @default undefined (silent) */
  logger?: Logger;
  /** @internal Timers (a simulated clock in tests). */
  clock?: Clock;
}

/** What {@link gracefulShutdown} returns. */
export interface ShutdownHandle {
  /**
   * Runs the shutdown now, as if `signal` had arrived (without `exit`, nothing is raised). Resolves
   * when it is done or timed out; a second call returns the same promise.
   */
  shutdown(signal?: NodeJS.Signals): Promise<void>;
  /** Removes the signal handlers (the process gets Node's default behaviour back). Idempotent. */
  dispose(): void;
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
const DEFAULT_DRAIN_MS = 2_000;
const DEFAULT_TIMEOUT_MS = 8_000;

/**
 * Installs handlers for SIGINT and SIGTERM that shut the process down gracefully: `onSignal`, the
 * goodbye, `drainDelay`, `onDrained`, `registry.close()` — all within `timeout` — then the signal
 * is raised again with the handlers removed, so the process dies of it. A second signal during the
 * shutdown ends the process at once, with that signal.
 *
 * ```ts
 * const registration = await registry.register(service);
 * gracefulShutdown({ registry, registrations: [registration], onDrained: () => server.close() });
 * ```
 */
export function gracefulShutdown(options: ShutdownOptions): ShutdownHandle {
  const { registry } = options;
  const signals = options.signals ?? DEFAULT_SIGNALS;
  const drainDelay = checkDuration(options.drainDelay ?? DEFAULT_DRAIN_MS, 'gracefulShutdown: drainDelay', { min: 0 });
  const timeout = checkDuration(options.timeout ?? DEFAULT_TIMEOUT_MS, 'gracefulShutdown: timeout');
  const clock = options.clock ?? systemClock;
  const log = options.logger;
  const exit = options.exit ?? true;
  let running: Promise<void> | undefined;
  let installed = true;

  const dispose = () => {
    if (!installed) return;
    installed = false;
    for (const s of signals) process.removeListener(s, onSignal);
  };

  /** Dies of `signal`: with no other listener the default action runs; otherwise the status it would give. */
  const raise = (signal: NodeJS.Signals) => {
    dispose();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    else process.exit(128 + (constants.signals[signal] ?? 0));
  };

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      clock.setTimeout(resolve, ms, { ref: true });
    });

  const steps = async (signal: NodeJS.Signals | undefined) => {
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (error) {
        log?.warn({ err: error }, `graceful shutdown: ${what} failed`);
      }
    };
    if (signal !== undefined && options.onSignal) await step('onSignal', () => options.onSignal?.(signal));
    const registrations = options.registrations ?? [];
    if (registrations.length > 0) {
      await step('deregister', () => Promise.all(registrations.map((r) => r.deregister())));
      log?.info({ registrations: registrations.length }, 'graceful shutdown: deregistered, draining');
    } else {
      await step('close', () => registry.close());
      log?.info({}, 'graceful shutdown: registry closed, draining');
    }
    if (drainDelay > 0) await wait(drainDelay);
    if (options.onDrained) await step('onDrained', () => options.onDrained?.());
    await step('close', () => registry.close());
  };

  const shutdown = (signal?: NodeJS.Signals): Promise<void> => {
    running ??= new Promise<void>((resolve) => {
      let timer: Timer | undefined;
      let finished = false;
      const finish = (timedOut: boolean) => {
        if (finished) return;
        finished = true;
        timer?.cancel();
        if (timedOut) log?.warn({ timeout }, 'graceful shutdown: timed out, exiting anyway');
        else log?.info({}, 'graceful shutdown: done');
        resolve();
        if (exit && signal !== undefined) raise(signal);
      };
      timer = clock.setTimeout(() => finish(true), timeout, { ref: true });
      steps(signal).then(
        () => finish(false),
        () => finish(false),
      );
    });
    return running;
  };

  function onSignal(signal: NodeJS.Signals): void {
    if (running) {
      // The second signal: the user means it.
      log?.warn({ signal }, 'graceful shutdown: second signal, exiting now');
      raise(signal);
      return;
    }
    log?.info({ signal }, 'graceful shutdown: signal received');
    void shutdown(signal);
  }

  for (const s of signals) process.on(s, onSignal);
  return { shutdown, dispose };
}
