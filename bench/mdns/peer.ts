/**
 * One side of the mdns benchmark, run inside a LAN host: a publisher or a watcher, on rollcall
 * or on bonjour-service. Commands arrive as JSON lines on stdin; events leave as JSON lines on
 * stdout, stamped with a clock every process on the machine shares (performance.timeOrigin +
 * performance.now()).
 *
 * Publishers time their first announcement by watching the datagrams they send: every send is
 * decoded and the first response carrying an instance's SRV record is the announcement. Both
 * libraries send through dgram.Socket#send, so both are timed at the same point.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createRegistry, type Registration, type Registry } from '../../src/index.js';
import { compare } from '../lib.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  decode(buf: Buffer): { type: string; answers: Array<{ type: string; name: string }> };
};
const now = () => performance.timeOrigin + performance.now();
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
export const BONJOUR_TYPE = 'rcbench';
const REPORT_DELAY_MS = 30;

/** name (lowercase instance prefix) -> when its first announcement went out. */
const announced = new Map<string, number>();
/** name -> the report waiting for its first announcement (see waitAnnounced). */
const awaiting = new Map<string, (at: number) => void>();

const send = dgram.Socket.prototype.send as (...args: unknown[]) => void;
dgram.Socket.prototype.send = function (this: dgram.Socket, msg: unknown, ...rest: unknown[]) {
  let first: string | undefined;
  const buf = Buffer.isBuffer(msg) ? msg : Array.isArray(msg) ? Buffer.concat(msg as Buffer[]) : Buffer.from(String(msg));
  try {
    const p = dnsPacket.decode(buf);
    if (p.type === 'response') {
      for (const a of p.answers) {
        if (a.type !== 'SRV') continue;
        const label = a.name.split('.')[0]?.toLowerCase() ?? '';
        if (announced.has(label)) continue;
        announced.set(label, now());
        first = label;
      }
    }
  } catch {
    // not DNS
  }
  const r = send.call(this, msg, ...rest);
  if (first !== undefined) awaiting.get(first)?.(announced.get(first) as number);
  return r;
} as typeof dgram.Socket.prototype.send;

/**
 * With MDNS_BENCH_TRACE=1: when the latest datagram reached this process, and the minor page
 * faults up to then. A watch event for a new node comes in the same turn of the event loop as
 * the datagram that completed it, so the latest datagram is that one. Nothing is decoded here,
 * so both libraries are timed alike.
 */
const arrival = { at: Number.NaN, faults: 0 };
const trace = process.env.MDNS_BENCH_TRACE !== undefined;
if (trace) {
  const emit = dgram.Socket.prototype.emit as (...args: unknown[]) => boolean;
  dgram.Socket.prototype.emit = function (this: dgram.Socket, event: unknown, ...rest: unknown[]) {
    if (event === 'message') {
      arrival.faults = process.resourceUsage().minorPageFault;
      arrival.at = now();
    }
    return emit.call(this, event, ...rest);
  } as typeof dgram.Socket.prototype.emit;
}
/** What a watch event reports besides its time: with tracing, its datagram's arrival and the page faults since. */
const traced = () => (trace ? { arrivedAt: arrival.at, faults: process.resourceUsage().minorPageFault - arrival.faults } : {});

interface Bonjour {
  publish(o: { name: string; type: string; port: number; host?: string }): {
    stop(cb?: () => void): void;
    on(e: string, f: () => void): void;
  };
  find(o: { type: string }, onUp?: (s: { name: string }) => void): { stop(): void; on(e: string, f: (s: { name: string }) => void): void };
  destroy(cb?: () => void): void;
}

function bonjour(): Bonjour {
  const { Bonjour } = require('bonjour-service') as { Bonjour: new (opts?: object) => Bonjour };
  return new Bonjour();
}

/**
 * When the first announcement of `label` went out, asked as the registration is made, for both
 * libraries alike: the same one timer per registration in both publishers, and nothing else
 * between command and report. (A publisher that polled until its announcement woke up a hundred
 * times a registration, and on two cores that changes how the kernel shares them with the
 * watcher being measured.) The answer comes a pause after the announcement: a report written to
 * stdout at that moment would wake the bench runner, which would then compete with the watcher.
 */
function waitAnnounced(label: string): Promise<number> {
  return new Promise((resolve) => {
    const report = (at: number) => {
      awaiting.delete(label);
      clearTimeout(giveUp);
      setTimeout(() => resolve(at), REPORT_DELAY_MS);
    };
    const giveUp = setTimeout(() => {
      awaiting.delete(label);
      resolve(Number.NaN);
    }, 5000);
    awaiting.set(label, report);
    const at = announced.get(label);
    if (at !== undefined) report(at);
  });
}

async function main(role: string): Promise<void> {
  let registry: Registry | undefined;
  const regs = new Map<string, Registration>();
  let bj: Bonjour | undefined;
  if (role === 'rollcall-publisher' || role === 'rollcall-watcher') registry = await createRegistry({ kind: 'mdns' });
  if (role === 'bonjour-publisher' || role === 'bonjour-watcher') bj = bonjour();

  if (role === 'rollcall-watcher' && registry) {
    const watcher = registry.watch();
    void (async () => {
      for await (const e of watcher)
        if (e.type === 'create') {
          const at = now();
          out({ ev: 'up', name: e.service.name, at, ...traced() });
        }
    })();
    await watcher.synced;
  }
  if (role === 'bonjour-watcher' && bj)
    bj.find({ type: BONJOUR_TYPE }, (s) => {
      const at = now();
      out({ ev: 'up', name: s.name, at, ...traced() });
    });
  out({ ev: 'ready' });

  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as { cmd: string; name: string; port?: number; host?: string; rounds?: number };
    // Registrations overlap (each probes for about a second), so they are not awaited here.
    if (cmd.cmd === 'register' && registry) {
      const reg = registry;
      const callAt = now();
      const announcedAt = waitAnnounced(cmd.name);
      void reg
        .register({ name: cmd.name, nodes: [{ id: cmd.name, address: `${cmd.host}:${cmd.port}` }] }, { ttl: 120_000 })
        .then(async (r) => {
          regs.set(cmd.name, r);
          out({ ev: 'registered', name: cmd.name, callAt, announcedAt: await announcedAt });
        });
    } else if (cmd.cmd === 'register' && bj) {
      const callAt = now();
      const announcedAt = waitAnnounced(cmd.name);
      bj.publish({ name: cmd.name, type: BONJOUR_TYPE, port: cmd.port ?? 1 });
      void announcedAt.then((announcedAt) => out({ ev: 'registered', name: cmd.name, callAt, announcedAt }));
    } else if (cmd.cmd === 'cold-rollcall') {
      // A fresh registry per lookup: nothing cached, nothing heard passively.
      const fresh = await createRegistry({ kind: 'mdns' });
      const t0 = now();
      const found = await fresh.getService(cmd.name, { timeout: 2000 }).catch(() => []);
      out({ ev: 'cold', name: cmd.name, ms: now() - t0, found: found.length });
      await fresh.close();
    } else if (cmd.cmd === 'cold-bonjour') {
      const fresh = bonjour();
      const t0 = now();
      const ms = await new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(Number.NaN), 2000);
        fresh.find({ type: BONJOUR_TYPE }, (s) => {
          if (s.name !== cmd.name) return;
          clearTimeout(timer);
          resolve(now() - t0);
        });
      });
      out({ ev: 'cold', name: cmd.name, ms, found: Number.isNaN(ms) ? 0 : 1 });
      await new Promise<void>((r) => fresh.destroy(() => r()));
    } else if (cmd.cmd === 'warm' && registry) {
      const reg = registry;
      const name = cmd.name;
      await reg.getService(name);
      const floor = new Map([[name, await reg.getService(name)]]);
      const floorGet = async (n: string) => floor.get(n);
      const batch = 20_000;
      const [f, g] = await compare(
        [
          {
            name: 'floor',
            run: async () => {
              for (let i = 0; i < batch; i++) await floorGet(name);
              return batch;
            },
          },
          {
            name: 'getService',
            run: async () => {
              for (let i = 0; i < batch; i++) await reg.getService(name);
              return batch;
            },
          },
        ],
        { rounds: cmd.rounds ?? 15 },
      );
      out({ ev: 'warm', floorNs: f?.nsPerOp, getServiceNs: g?.nsPerOp });
    } else if (cmd.cmd === 'quit') break;
  }
  for (const r of regs.values()) await r.deregister();
  await registry?.close();
  if (bj) await new Promise<void>((r) => bj?.destroy(() => r()));
  out({ ev: 'bye' });
  process.exit(0);
}

const role = process.argv[2];
if (role) {
  main(role).catch((error) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  });
}
