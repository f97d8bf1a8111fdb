/**
 * A hostile or broken mDNS peer for the robustness tests, run inside a LAN host:
 *
 * - `send`: multicasts the given datagrams (hex) from a chosen source address, `repeat` times;
 * - `replay-goodbye`: waits for a response announcing `instance`, then multicasts its records
 *   again with TTL 0 from a chosen source address (a spoofed goodbye);
 * - `listen`: a listener that never sends, on port 5353 like any responder's: prints `heard` and
 *   exits at the first response with a record of `instance`;
 * - `hold-dual-stack`: binds a dual-stack socket on [::]:5353 (IPv4 traffic reaches it too) and
 *   holds it until killed.
 *
 * Configured through RAW_PEER (JSON); prints one JSON line per event.
 */
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { type LanHost, waitForLine } from '../peers/lan.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as {
  encode(m: object): Buffer;
  decode(b: Buffer): { type: string; answers: Array<{ name: string; type: string; ttl: number }>; additionals: Array<{ ttl: number }> };
};

export interface SendConfig {
  mode: 'send';
  /** Source address to send from (bound), e.g. an off-link address added to eth0. */
  bind: string;
  /** Source port; 5353 makes queries multicast-DNS queries rather than legacy ones. @default ephemeral */
  port?: number;
  packets: string[];
  repeat?: number;
  /** Milliseconds between rounds; 0 sends as fast as the socket takes them. */
  intervalMs?: number;
}

export interface ReplayConfig {
  mode: 'replay-goodbye';
  bind: string;
  /** Local address on the LAN, to join the group and hear the announcement. */
  listen: string;
  instance: string;
}

export interface ListenConfig {
  mode: 'listen';
  /** Local address on the LAN, to join the group on. */
  listen: string;
  instance: string;
}

/** Announces `count` fake nodes (`<prefix>-<i>`, each PTR, SRV, TXT and A) at `perSecond`. */
export interface FloodConfig {
  mode: 'flood';
  bind: string;
  prefix: string;
  count: number;
  perSecond: number;
}

export interface HoldConfig {
  mode: 'hold-dual-stack';
}

type RawPeerConfig = SendConfig | ReplayConfig | ListenConfig | HoldConfig | FloodConfig;

/** Binds port 5353 as responders do, joins the group on `listen`, and calls back with each response about `instance`. */
async function hear(config: ReplayConfig | ListenConfig, onAnnouncement: (m: ReturnType<typeof dnsPacket.decode>) => void) {
  const listener = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => listener.bind(5353, '0.0.0.0', resolve));
  listener.addMembership('224.0.0.251', config.listen);
  listener.on('message', (buf) => {
    let m: ReturnType<typeof dnsPacket.decode>;
    try {
      m = dnsPacket.decode(buf);
    } catch {
      return;
    }
    // Replaying needs the whole announcement (its SRV among the answers); a listener, any record of the instance.
    const wanted = (a: { type: string; name: string }) =>
      (config.mode === 'listen' || a.type === 'SRV') && a.name.toLowerCase() === config.instance.toLowerCase();
    if (m.type === 'response' && m.answers.some(wanted)) onAnnouncement(m);
  });
  return listener;
}

async function main(config: RawPeerConfig): Promise<void> {
  const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  if (config.mode === 'hold-dual-stack') {
    const socket = createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: false });
    await new Promise<void>((resolve) => socket.bind(5353, '::', resolve));
    out({ ev: 'ready' });
    await new Promise(() => {});
    return;
  }
  if (config.mode === 'listen') {
    let listener: Awaited<ReturnType<typeof hear>> | undefined;
    await new Promise<void>((resolve) => {
      void hear(config, () => resolve()).then((l) => {
        listener = l;
        out({ ev: 'ready' });
      });
    });
    out({ ev: 'heard' });
    listener?.close();
    return;
  }
  const sender = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) =>
    sender.bind(config.mode === 'send' ? (config.port ?? 0) : config.mode === 'flood' ? 5353 : 0, config.bind, resolve),
  );
  sender.setMulticastTTL(255);
  const send = (buf: Buffer) => new Promise<void>((resolve) => sender.send(buf, 5353, '224.0.0.251', () => resolve()));
  if (config.mode === 'flood') {
    out({ ev: 'ready' });
    const started = performance.now();
    const batch = Math.max(1, Math.round(config.perSecond / 100));
    for (let i = 0; i < config.count; i += batch) {
      const sends: Promise<void>[] = [];
      for (let k = i; k < Math.min(config.count, i + batch); k++) {
        const name = `${config.prefix}-${k}`;
        const txt = ['txtvers=1', `name=${name}`, `id=${name}-1`];
        sends.push(send(Buffer.from(announcement(name, `${name}-host.local`, config.bind, 1000 + (k % 60_000), txt), 'hex')));
      }
      await Promise.all(sends);
      // Paced by the clock, not by sleeps alone: a sleep overshoots, and the rate would drift low.
      const due = started + ((i + batch) / config.perSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    out({ ev: 'sent', count: config.count });
  } else if (config.mode === 'send') {
    const packets = config.packets.map((hex) => Buffer.from(hex, 'hex'));
    out({ ev: 'ready' });
    const rounds = config.repeat ?? 1;
    if (config.intervalMs) {
      for (let round = 0; round < rounds; round++) {
        for (const p of packets) await send(p);
        await new Promise((r) => setTimeout(r, config.intervalMs));
      }
    } else {
      // Without an interval every datagram is queued at once: as fast as the host can send.
      await Promise.all(Array.from({ length: rounds }, () => packets.map(send)).flat());
    }
    out({ ev: 'sent', count: packets.length * (config.repeat ?? 1) });
  } else {
    let replayed = false;
    let listener: Awaited<ReturnType<typeof hear>> | undefined;
    await new Promise<void>((resolve) => {
      void hear(config, (m) => {
        if (replayed) return;
        replayed = true;
        for (const a of [...m.answers, ...m.additionals]) a.ttl = 0;
        void send(dnsPacket.encode(m)).then(() => {
          out({ ev: 'sent' });
          resolve();
        });
      }).then((l) => {
        listener = l;
        out({ ev: 'ready' });
      });
    });
    listener?.close();
  }
  sender.close();
}

if (process.env.RAW_PEER) {
  main(JSON.parse(process.env.RAW_PEER) as RawPeerConfig).catch((error) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}

const self = new URL(import.meta.url).pathname;
const root = new URL('../..', import.meta.url).pathname;

/** Runs the raw peer in `host`; resolves once it is ready, with a promise for its end. */
export async function rawPeer(host: LanHost, config: RawPeerConfig): Promise<{ done: Promise<string> }> {
  const child = host.exec(process.execPath, ['--import', 'tsx', self], {
    cwd: root,
    env: { ...process.env, RAW_PEER: JSON.stringify(config) },
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  let errors = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    errors += d;
  });
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`raw peer exited ${code}: ${errors}`)))),
  );
  await waitForLine(child.stdout, /"ev":"ready"/, 20_000, 'raw peer ready').catch(async (error) => {
    throw new Error(`${(error as Error).message}\n${errors}`);
  });
  return { done };
}

/** A response announcing one node in our dns-sd TXT format (valid DNS; content chosen by the test). */
export function announcement(instance: string, host: string, address: string, port: number, txt: Array<string | Buffer>): string {
  const name = `${instance}._rollcall._tcp.local`;
  return dnsPacket
    .encode({
      type: 'response',
      flags: 0x400,
      answers: [
        { name: '_rollcall._tcp.local', type: 'PTR', ttl: 4500, data: name },
        { name, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port, target: host } },
        { name, type: 'TXT', ttl: 120, flush: true, data: txt.map((t) => (typeof t === 'string' ? Buffer.from(t) : t)) },
        { name: host, type: 'A', ttl: 120, flush: true, data: address },
      ],
    })
    .toString('hex');
}
