/**
 * mdns receive path, in one process: rollcall's packet reader against dns-packet's decode (what
 * multicast-dns, and so bonjour-service, runs on every datagram), on the packets a browser hears
 * most: one node's announcement, and an avahi-style announcement with name compression. Warm
 * numbers; the cross-host benchmark (discovery.bench.ts) has the cold ones.
 */
import { createRequire } from 'node:module';
import { encodeMessage, type Rr } from '../../src/adapters/mdns/packet.js';
import { readMessage } from '../../src/adapters/mdns/packet-reader.js';
import { header, labelBytes, labels, pointer, tail } from '../../test/mdns/wire-bytes.js';
import { compare, fmt, report } from '../lib.js';

const require = createRequire(import.meta.url);
const dnsPacket = createRequire(require.resolve('multicast-dns'))('dns-packet') as { decode(buf: Buffer): unknown };
const BATCH = 2_000;

/** One node's announcement as rollcall's responder sends it (three PTRs, SRV, TXT, A). */
function announcement(): Buffer {
  const instance = 'greeter-7f3a._rollcall._tcp.local';
  const host = 'rc-10-0-0-7-k2m4q8.local';
  const answers: Rr[] = [
    { name: '_rollcall._tcp.local', type: 'PTR', ttl: 4500, flush: false, data: instance },
    { name: '_greeter._sub._rollcall._tcp.local', type: 'PTR', ttl: 4500, flush: false, data: instance },
    { name: '_services._dns-sd._udp.local', type: 'PTR', ttl: 4500, flush: false, data: '_rollcall._tcp.local' },
    { name: instance, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port: 8080, target: host } },
    {
      name: instance,
      type: 'TXT',
      ttl: 120,
      flush: true,
      data: ['txtvers=1', 'name=greeter', 'version=1.0.0', 'id=greeter-7f3a', 'n.protocol=http'].map((s) => Buffer.from(s)),
    },
  ];
  const additionals: Rr[] = [{ name: host, type: 'A', ttl: 120, flush: true, data: '10.0.0.7' }];
  return encodeMessage({ id: 0, response: true, tc: false, questions: [], answers, authorities: [], additionals });
}

/** The same kind of announcement with every repeated name suffix compressed, as avahi writes it. */
function compressed(): Buffer {
  const parts: Buffer[] = [header({ an: 4, ar: 1 })];
  const at = () => parts.reduce((n, p) => n + p.length, 0);
  const typeAt = at();
  parts.push(labels('_http', '_tcp', 'local'));
  const localAt = typeAt + labelBytes('_http', '_tcp').length;
  const ptrRecordAt = at();
  parts.push(tail(12, Buffer.concat([labelBytes('Printer on desk'), pointer(typeAt)]), 1, 4500));
  const instanceAt = ptrRecordAt + 10;
  parts.push(pointer(instanceAt));
  const srvAt = at();
  parts.push(tail(33, Buffer.concat([Buffer.from([0, 0, 0, 0, 0x02, 0x77]), labelBytes('desk'), pointer(localAt)]), 0x8001));
  const hostAt = srvAt + 10 + 6;
  const txt = Buffer.concat(['txtvers=1', 'rp=ipp/print', 'ty=Desk Printer'].map((s) => labelBytes(s)));
  parts.push(pointer(instanceAt), tail(16, txt, 0x8001, 4500));
  parts.push(pointer(hostAt), tail(1, Buffer.from([10, 0, 0, 9]), 0x8001));
  parts.push(pointer(hostAt), tail(28, Buffer.from('fe80000000000000021122fffe334455', 'hex'), 0x8001));
  return Buffer.concat(parts);
}

export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [label, packet] of [
    ['rollcall announcement', announcement()],
    ['avahi-style compressed announcement', compressed()],
  ] as const) {
    const check = readMessage(packet);
    if (typeof check === 'string') throw new Error(`${label}: ${check}`);
    const [reader, decode] = await compare(
      [
        {
          name: 'readMessage',
          run: () => {
            for (let i = 0; i < BATCH; i++) readMessage(packet);
            return BATCH;
          },
        },
        {
          name: 'dns-packet decode',
          run: () => {
            for (let i = 0; i < BATCH; i++) dnsPacket.decode(packet);
            return BATCH;
          },
        },
      ],
      { rounds: 25, warmup: 5 },
    );
    const ratio = (reader?.nsPerOp ?? Number.NaN) / (decode?.nsPerOp ?? Number.NaN);
    report(`mdns: reading one datagram (${label}, ${packet.length} bytes, ${check.answers.length + check.additionals.length} records)`, [
      ['dns-packet decode', fmt.ns(decode?.nsPerOp ?? Number.NaN)],
      [
        'rollcall readMessage',
        `${fmt.ns(reader?.nsPerOp ?? Number.NaN)}  = ${fmt.ratio(ratio)} of dns-packet's decode (which rollcall no longer also runs)`,
      ],
    ]);
    out[label] = ratio;
  }
  return out;
}
