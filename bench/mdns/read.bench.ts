/**
 * mdns receive path, in one process: rollcall's packet reader against dns-packet's decode (what
 * multicast-dns, and so bonjour-service, runs on every datagram), on the packets a browser hears
 * most: one node's announcement, and an avahi-style announcement with name compression. Warm
 * numbers; the cross-host benchmark (discovery.bench.ts) has the cold ones.
 */
import { createRequire } from 'node:module';
import { encodeMessage, type Rr } from '../../src/adapters/mdns/packet.js';
import { readMessage } from '../../src/adapters/mdns/packet-reader.js';
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
  const label = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  const ptr = (offset: number) => Buffer.from([0xc0 | (offset >> 8), offset & 0xff]);
  const rr = (type: number, klass: number, ttl: number, rdata: Buffer) => {
    const b = Buffer.alloc(10);
    b.writeUInt16BE(type, 0);
    b.writeUInt16BE(klass, 2);
    b.writeUInt32BE(ttl, 4);
    b.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([b, rdata]);
  };
  const header = Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 4, 0, 0, 0, 1]);
  const parts: Buffer[] = [header];
  const at = () => parts.reduce((n, p) => n + p.length, 0);
  const typeAt = at();
  parts.push(label('_http'), label('_tcp'), label('local'), Buffer.from([0]));
  const localAt = typeAt + 11;
  const instanceData = Buffer.concat([label('Printer on desk'), ptr(typeAt)]);
  const ptrRecordAt = at();
  parts.push(rr(12, 1, 4500, instanceData));
  const instanceAt = ptrRecordAt + 10;
  parts.push(ptr(instanceAt));
  const hostData = Buffer.concat([label('desk'), ptr(localAt)]);
  const srvStart = at();
  parts.push(rr(33, 0x8001, 120, Buffer.concat([Buffer.from([0, 0, 0, 0, 0x02, 0x77]), hostData])));
  const hostAt = srvStart + 10 + 6;
  parts.push(ptr(instanceAt), rr(16, 0x8001, 4500, Buffer.concat(['txtvers=1', 'rp=ipp/print', 'ty=Desk Printer'].map(label))));
  parts.push(ptr(hostAt), rr(1, 0x8001, 120, Buffer.from([10, 0, 0, 9])));
  parts.push(ptr(hostAt), rr(28, 0x8001, 120, Buffer.from('fe80000000000000021122fffe334455', 'hex')));
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
