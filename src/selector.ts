/**
 * Picking a node to call: random (Go Micro's default) or round-robin, with filters by version,
 * node metadata and endpoint, over the services `getService` returns.
 * @module
 */
import { RollcallError } from './errors.js';
import type { Node, Service } from './registry.js';

export interface SelectOptions {
  /** `random` spreads load without shared state; `round-robin` cycles deterministically. @default 'random' */
  strategy?: 'random' | 'round-robin';
  /** Only nodes of this version. */
  version?: string;
  /** Only nodes whose metadata contains all these pairs. */
  metadata?: Readonly<Record<string, string>>;
  /** Only services that declare this endpoint. */
  endpoint?: string;
}

/** Every node of `services` that passes the filters. */
export function filterNodes(services: readonly Service[], options: SelectOptions = {}): Node[] {
  const out: Node[] = [];
  for (const service of services) {
    if (options.version !== undefined && service.version !== options.version) continue;
    if (options.endpoint !== undefined && !service.endpoints.some((e) => e.name === options.endpoint)) continue;
    for (const node of service.nodes) {
      if (options.metadata && !Object.entries(options.metadata).every(([k, v]) => node.metadata[k] === v)) continue;
      out.push(node);
    }
  }
  return out;
}

/**
 * A stateful picker. Round-robin keeps its position per selector, so keep one selector per
 * downstream service; the order is stable because registries return nodes sorted by id.
 */
export function createSelector(options: SelectOptions = {}): (services: readonly Service[]) => Node {
  let next = 0;
  return (services) => {
    const nodes = filterNodes(services, options);
    if (nodes.length === 0) {
      const name = services[0]?.name ?? 'service';
      throw new RollcallError('NOT_FOUND', `no node of ${JSON.stringify(name)} matches the selector`);
    }
    if (options.strategy === 'round-robin') {
      const node = nodes[next % nodes.length] as Node;
      next = (next + 1) % Number.MAX_SAFE_INTEGER;
      return node;
    }
    return nodes[Math.floor(Math.random() * nodes.length)] as Node;
  };
}
