/**
 * Type tests: checked by `npm run typecheck` (tsc --noEmit), never executed. Each `@ts-expect-error`
 * fails the check if the line ever compiles, so the public types cannot silently loosen.
 */
import {
  createRegistry,
  isRollcallError,
  type Registry,
  type RegistryOptions,
  type Service,
  type WatchEvent,
  type WatchState,
} from '../../src/index.js';

export async function publicApi(registry: Registry): Promise<void> {
  const services = await registry.getService('greeter');
  // @ts-expect-error returned services are read-only snapshots
  services[0].nodes = [];
  // @ts-expect-error returned arrays are read-only
  services.push({} as Service);

  const reg = await registry.register({ name: 'greeter', nodes: [{ address: '10.0.0.1:80' }] }, { ttl: 30_000 });
  reg.on('lost', (error) => error.code satisfies string);
  // @ts-expect-error only 'lost' and 'restored' are registration events
  reg.on('renewed', () => {});
  // @ts-expect-error a node needs an address
  await registry.register({ name: 'greeter', nodes: [{ id: 'x' }] });

  for await (const event of registry.watch({ service: 'greeter' })) {
    if (event.type === 'resync') event.services satisfies readonly Service[];
    else event.removed satisfies readonly unknown[];
    // @ts-expect-error 'resync' carries services, not a service: narrow first
    void event.service;
  }
  const watcher = registry.watch();
  watcher.state satisfies WatchState;
  watcher.on('state', (state, reason) => {
    state satisfies 'syncing' | 'live' | 'blind';
    reason?.code satisfies string | undefined;
  });
  // @ts-expect-error the states are a closed union
  watcher.state satisfies 'stale';
  // @ts-expect-error 'state' is the one watcher event
  watcher.on('blind', () => {});
  registry.stats().watchersBlind satisfies number;
  const e: WatchEvent = { type: 'resync', services: [] };
  void e;

  const error: unknown = new Error('x');
  if (isRollcallError(error, 'NOT_FOUND')) error.retryable satisfies boolean;
  // @ts-expect-error codes are a closed union
  isRollcallError(error, 'NOPE');

  const options: RegistryOptions = { kind: 'memory', name: 'shared' };
  await createRegistry(options);
  await createRegistry('consul://10.0.0.2:8500');
  // @ts-expect-error unknown kinds do not type-check
  await createRegistry({ kind: 'etcd' });
  // @ts-expect-error each kind type-checks with its adapter's options
  await createRegistry({ kind: 'consul', datacenter: 5 });
  await createRegistry({ kind: 'consul', address: '10.0.0.2:8500', datacenter: 'eu' });
  await using r = await createRegistry({ kind: 'memory' });
  void r;
}
