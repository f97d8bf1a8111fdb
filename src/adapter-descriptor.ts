/**
 * How the core knows an adapter: one descriptor each (its kind, URL parameters, option type and a
 * lazy loader), registered through {@link registerAdapter}. The built-in adapters register the same
 * way (src/adapters/builtin.ts), so adding one touches its own folder and one line, not the core.
 * @module
 */
import { RollcallError } from './errors.js';
import type { Registry } from './registry.js';

/** Creates a registry from the adapter's options. */
export type AdapterFactory<Options extends object = Record<string, unknown>> = (options: Options) => Registry | Promise<Registry>;

/** Everything `createRegistry` needs to know about one adapter, without loading its code. */
export interface AdapterDescriptor<Kind extends string = string, Options extends object = Record<string, unknown>> {
  /** The `kind` option and the URL scheme (`consul://`). Lower case. */
  readonly kind: Kind;
  /** URL query parameters the adapter accepts, each mapped to the option it becomes. */
  readonly urlParams?: Readonly<Record<string, string>>;
  /**
   * What the URL authority (`kind://authority?...`) becomes: `address`, a comma-separated list of
   * `host:port` (networked adapters), or `name` (memory's shared store).
   * @default 'address'
   */
  readonly urlAuthority?: 'address' | 'name';
  /**
   * Imports the adapter on first use, so a process on one backend never loads another's code.
   * Omitted for a kind that is part of the API but not available in this build.
   */
  readonly load?: () => Promise<AdapterFactory<Options>>;
}

/** The options type a descriptor's factory takes, with its `kind`. */
export type DescriptorOptions<D> =
  D extends AdapterDescriptor<infer Kind, infer Options>
    ? Options & {
        /** Which adapter to create: the descriptor's kind. */
        kind: Kind;
      }
    : never;

const descriptors = new Map<string, AdapterDescriptor>();

/**
 * Makes an adapter available to `createRegistry` (options, URL and environment). Registering a
 * kind again replaces its descriptor (a build that ships its own copy of an adapter).
 */
export function registerAdapter(descriptor: AdapterDescriptor<string, never>): void {
  if (typeof descriptor?.kind !== 'string' || !/^[a-z][a-z0-9+.-]*$/.test(descriptor.kind)) {
    throw new RollcallError(
      'INVALID_OPTIONS',
      `registerAdapter: kind must be a lower-case URL scheme, got ${JSON.stringify(descriptor?.kind)}`,
    );
  }
  descriptors.set(descriptor.kind, Object.freeze({ ...descriptor }) as AdapterDescriptor);
}

/** The descriptor registered for `kind`, if any. */
export function adapterDescriptor(kind: string): AdapterDescriptor | undefined {
  return descriptors.get(kind);
}

/** Every registered kind, in registration order. */
export function registeredKinds(): string[] {
  return [...descriptors.keys()];
}
