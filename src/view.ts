/**
 * What a registry currently knows: one frozen {@link Service} per live (name, version), plus the
 * watch hub that tells watchers about every change. Adapters feed it (the memory store directly,
 * the networked adapters from their caches and queries); reads answer from it without copying.
 * @module
 */
import { splitKey } from './internal/keys.js';
import type { Node, Service, Watcher, WatchOptions } from './registry.js';
import { deepEqual, serviceKey, withNodes, withoutNodes } from './service.js';
import { WatchHub, type WatchHubOptions, type WatchInterest, type WatchOwner, type WatchSource } from './watcher.js';

export class ServiceView implements WatchSource {
  /** name -> version -> service (always with at least one node). */
  readonly #services = new Map<string, Map<string, Service>>();
  /** Frozen answers for getService, rebuilt only after a change of that name. */
  readonly #answers = new Map<string, readonly Service[]>();
  /** Node-less entries for listServices, rebuilt only after any change. */
  #summaries: readonly Service[] | undefined;
  readonly hub: WatchHub;

  constructor(options: WatchHubOptions) {
    this.hub = new WatchHub(this, options);
  }

  /** Every live version of `name` (frozen, shared); empty when none. */
  get(name: string): readonly Service[] {
    let answer = this.#answers.get(name);
    if (answer === undefined) {
      const versions = this.#services.get(name);
      answer = Object.freeze(versions ? [...versions.values()] : []);
      if (versions) this.#answers.set(name, answer);
    }
    return answer;
  }

  /** One node-less entry per live (name, version). */
  list(): Service[] {
    if (!this.#summaries) {
      const out: Service[] = [];
      for (const versions of this.#services.values()) for (const service of versions.values()) out.push(withoutNodes(service));
      this.#summaries = Object.freeze(out);
    }
    return [...this.#summaries];
  }

  has(name: string): boolean {
    return this.#services.has(name);
  }

  /** Replaces the whole state of `service`'s (name, version); no nodes means it is gone. */
  set(service: Service): void {
    const versions = this.#services.get(service.name);
    const before = versions?.get(service.version);
    if (before === service || (before && deepEqual(before, service))) return;
    if (service.nodes.length === 0) {
      if (!before || !versions) return;
      versions.delete(service.version);
      if (versions.size === 0) this.#services.delete(service.name);
    } else if (versions) versions.set(service.version, service);
    else this.#services.set(service.name, new Map<string, Service>().set(service.version, service));
    this.#answers.delete(service.name);
    this.#summaries = undefined;
    this.hub.notify(service.name, serviceKey(service.name, service.version), before, service.nodes.length === 0 ? undefined : service);
  }

  /** Replaces every version of `name` at once (a backend answered for the whole name). */
  replaceName(name: string, services: readonly Service[]): void {
    const seen = new Set<string>();
    for (const service of services) {
      seen.add(service.version);
      this.set(service);
    }
    const versions = this.#services.get(name);
    if (!versions) return;
    for (const service of [...versions.values()]) if (!seen.has(service.version)) this.set(withoutNodes(service));
  }

  /**
   * Adds or replaces one node. The service-level fields (metadata, endpoints) of `service` win:
   * the most recent registration of a (name, version) describes it.
   */
  putNode(service: Service, node: Node): void {
    const current = this.#services.get(service.name)?.get(service.version);
    // A first node, already the service's only one: nothing to merge.
    if (!current && service.nodes.length === 1 && service.nodes[0] === node) {
      this.set(service);
      return;
    }
    const others = current ? current.nodes.filter((n) => n.id !== node.id) : [];
    this.set(withNodes(service, [...others, node]));
  }

  /** Removes one node; the (name, version) disappears with its last node. */
  removeNode(name: string, version: string, nodeId: string): Node | undefined {
    const current = this.#services.get(name)?.get(version);
    const node = current?.nodes.find((n) => n.id === nodeId);
    if (!current || !node) return undefined;
    this.set(
      withNodes(
        current,
        current.nodes.filter((n) => n !== node),
      ),
    );
    return node;
  }

  /** Drops everything (watchers see deletes). */
  clear(): void {
    for (const versions of [...this.#services.values()]) for (const service of [...versions.values()]) this.set(withoutNodes(service));
  }

  watch(options?: WatchOptions, owner?: WatchOwner, interest?: (service: string | undefined) => WatchInterest | undefined): Watcher {
    return this.hub.watch(options, owner, interest);
  }

  // WatchSource
  current(key: string): Service | undefined {
    const [name = '', version = ''] = splitKey(key);
    return this.#services.get(name)?.get(version);
  }

  snapshot(service?: string): Service[] {
    if (service !== undefined) return [...this.get(service)];
    const out: Service[] = [];
    for (const versions of this.#services.values()) out.push(...versions.values());
    return out;
  }

  *keys(service?: string): Iterable<string> {
    const names = service === undefined ? [...this.#services.keys()] : [service];
    for (const name of names) {
      const versions = this.#services.get(name);
      if (versions) for (const version of versions.keys()) yield serviceKey(name, version);
    }
  }
}
