/**
 * A test adapter (not shipped): records each backend operation the core asks of it, in order,
 * over a plain in-process view. It is built on AdapterBase like the built-in adapters.
 */
import { AdapterBase } from '../../src/adapter.js';
import { silentLogger } from '../../src/diagnostics.js';
import type { RegistrationOps } from '../../src/registration.js';
import type { Registry, Service } from '../../src/registry.js';

const ids = (s: Service) => s.nodes.map((n) => n.id).join(',');

class LedgerRegistry extends AdapterBase {
  readonly ledger: string[] = [];

  constructor() {
    super({ kind: 'memory', options: {}, logger: silentLogger });
  }

  protected async put(service: Service): Promise<RegistrationOps> {
    this.ledger.push(`put ${ids(service)}`);
    for (const node of service.nodes) this.view.putNode(service, node);
    return {
      remove: async (s) => {
        this.ledger.push(`remove ${ids(s)}`);
        for (const node of s.nodes) this.view.removeNode(s.name, s.version, node.id);
      },
      stop: (s) => void this.ledger.push(`stop ${ids(s)}`),
    };
  }

  protected async remove(service: Service): Promise<void> {
    this.ledger.push(`deregister ${ids(service)}`);
  }

  protected async lookup(name: string): Promise<readonly Service[]> {
    return this.view.get(name);
  }

  protected async summaries(): Promise<Service[]> {
    return this.view.list();
  }

  protected async shutdown(): Promise<void> {
    this.ledger.push('shutdown');
  }
}

export function createLedgerRegistry(): { registry: Registry; ledger: string[] } {
  const registry = new LedgerRegistry();
  return { registry, ledger: registry.ledger };
}
