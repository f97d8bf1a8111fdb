/**
 * Register -> watch event on a real dev agent, side by side in one run: rollcall's watch, the
 * `consul` npm client's watch and a raw undici blocking-query loop (the floor). Each watches its
 * own service, so one registration wakes exactly one of them; rounds rotate the order. The trigger
 * is the same raw `PUT /v1/agent/service/register` (with a passing check) for all three.
 */
import Consul from 'consul';
import { Pool } from 'undici';
import { createConsulRegistry } from '../../src/adapters/consul/index.js';
import { startDevAgent } from '../../test/peers/consul.js';
import { fmt, median, quantile, report } from '../lib.js';

const SAMPLES = 200;
const WAIT = '5m';

/** What a candidate has seen: the instance ids of its service, and who waits for which state. */
class Seen {
  #ids = new Set<string>();
  #waiters: Array<{ id: string; present: boolean; resolve: (at: number) => void }> = [];
  update(ids: Iterable<string>): void {
    const at = performance.now();
    this.#ids = new Set(ids);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#ids.has(w.id) !== w.present) return true;
      w.resolve(at);
      return false;
    });
  }
  until(id: string, present: boolean): Promise<number> {
    if (this.#ids.has(id) === present) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.#waiters.push({ id, present, resolve }));
  }
}

interface Candidate {
  name: string;
  service: string;
  seen: Seen;
  samples: number[];
  stop(): Promise<void> | void;
}

type HealthEntry = { Service: { ID: string } };

export async function run(): Promise<{ p50: Record<string, number>; vsConsul: number; vsFloor: number }> {
  const agent = await startDevAgent();
  const url = new URL(agent.address);
  const trigger = new Pool(agent.address, { connections: 1 });
  const candidates: Candidate[] = [];
  try {
    // rollcall
    const registry = createConsulRegistry({ address: agent.address });
    const ours: Candidate = { name: 'rollcall', service: 'bench-rollcall', seen: new Seen(), samples: [], stop: () => registry.close() };
    const watcher = registry.watch({ service: ours.service });
    void (async () => {
      for await (const event of watcher) if (event.type !== 'resync') ours.seen.update(event.service.nodes.map((n) => n.id));
    })();

    // the consul npm client
    const client = new Consul({ host: url.hostname, port: Number(url.port) });
    const theirs: Candidate = { name: 'consul npm', service: 'bench-consul', seen: new Seen(), samples: [], stop: () => watch.end() };
    const watch = client.watch({ method: client.health.service, options: { service: theirs.service, passing: 'true', wait: WAIT } });
    watch.on('change', (data: HealthEntry[]) => theirs.seen.update(data.map((e) => e.Service.ID)));
    watch.on('error', () => {});

    // the floor: a raw blocking loop on its own connection, nothing but JSON.parse
    const pool = new Pool(agent.address, { connections: 1, headersTimeout: 0, bodyTimeout: 0 });
    const floor: Candidate = { name: 'raw undici loop', service: 'bench-floor', seen: new Seen(), samples: [], stop: () => pool.destroy() };
    void (async () => {
      let index = 0;
      for (;;) {
        const res = await pool
          .request({ path: `/v1/health/service/${floor.service}?passing&index=${index}&wait=${WAIT}`, method: 'GET' })
          .catch(() => undefined);
        if (!res) return;
        const body = (await res.body.json()) as HealthEntry[];
        index = Number(res.headers['x-consul-index']) || 1;
        floor.seen.update(body.map((e) => e.Service.ID));
      }
    })();
    candidates.push(ours, theirs, floor);
    await new Promise((r) => setTimeout(r, 300));

    const put = (path: string, body?: unknown) =>
      trigger.request({ path, method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.body.dump());
    for (let i = 0; i < SAMPLES; i++) {
      const order = [...candidates.slice(i % 3), ...candidates.slice(0, i % 3)];
      for (const c of order) {
        const id = `${c.service}-${i}`;
        const t0 = performance.now();
        await put('/v1/agent/service/register', {
          ID: id,
          Name: c.service,
          Address: '10.0.0.1',
          Port: 8080,
          Check: { TTL: '60s', Status: 'passing' },
        });
        c.samples.push((await c.seen.until(id, true)) - t0);
        await put(`/v1/agent/service/deregister/${id}`);
        await c.seen.until(id, false);
      }
    }
    const p50 = Object.fromEntries(candidates.map((c) => [c.name, median(c.samples)]));
    const vsConsul = median(ours.samples) / median(theirs.samples);
    const vsFloor = median(ours.samples) / median(floor.samples);
    report(`consul: register -> watch event, ${SAMPLES} registrations each, dev agent`, [
      ...candidates.map((c): [string, string] => [
        c.name,
        `p50 ${fmt.ns(median(c.samples) * 1e6)}  p99 ${fmt.ns(quantile(c.samples, 0.99) * 1e6)}`,
      ]),
      ['rollcall / consul npm (p50)', `${fmt.ratio(vsConsul)} (target <= 1.00x)`],
      ['rollcall / floor (p50)', `${fmt.ratio(vsFloor)} (target <= 1.10x)`],
      ['rollcall / floor (p99)', fmt.ratio(quantile(ours.samples, 0.99) / quantile(floor.samples, 0.99))],
    ]);
    return { p50, vsConsul, vsFloor };
  } finally {
    await Promise.allSettled(candidates.map((c) => c.stop()));
    await trigger.destroy();
    await agent.stop();
  }
}
