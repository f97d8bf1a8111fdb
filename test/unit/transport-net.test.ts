import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { isRollcallError } from '../../src/errors.js';
import { systemClock } from '../../src/internal/clock.js';
import type { Datagram, Stream } from '../../src/internal/transport.js';
import { bindNetTransport, type NetTransport } from '../../src/internal/transport-net.js';

const clock = systemClock;

const opened: NetTransport[] = [];
after(async () => {
  for (const t of opened) await t.close();
});

async function bind(host: string, port = 0): Promise<NetTransport> {
  const t = await bindNetTransport({ host, port, clock });
  opened.push(t);
  return t;
}

function nextDatagram(t: NetTransport): Promise<Datagram> {
  return new Promise((resolve) => t.listen({ datagram: resolve, stream: (s) => s.destroy() }));
}

async function readAll(stream: Stream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let chunk = await stream.read(); chunk; chunk = await stream.read()) parts.push(chunk);
  return Buffer.concat(parts);
}

for (const host of ['127.0.0.1', '::1']) {
  describe(`NetTransport on ${host}`, () => {
    it('port 0: UDP and TCP share one free port', async () => {
      const t = await bind(host);
      assert.ok(t.address.port > 0);
      assert.deepEqual(t.advertiseAddress, t.address);
      // Both protocols are really bound there: another exclusive bind of either fails.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const server = createServer().once('error', reject);
          server.listen({ host, port: t.address.port, exclusive: true }, () => server.close(resolve));
        }),
        /EADDRINUSE/,
      );
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = createSocket(host.includes(':') ? 'udp6' : 'udp4').once('error', (e) => {
            s.close();
            reject(e);
          });
          s.bind({ address: host, port: t.address.port, exclusive: true }, () => s.close(() => resolve(null)));
        }),
        /EADDRINUSE/,
      );
    });

    it('datagrams: sent both ways with the sender address and a receive time', async () => {
      const a = await bind(host);
      const b = await bind(host);
      const arriving = nextDatagram(b);
      const sentAt = await a.send(Buffer.from('ping'), b.address);
      const got = await arriving;
      assert.equal(Buffer.from(got.data).toString(), 'ping');
      assert.deepEqual(got.from, a.address);
      assert.ok(got.receivedAt >= sentAt - 1);
      const back = nextDatagram(a);
      await b.send(Buffer.from('ack'), got.from);
      assert.equal(Buffer.from((await back).data).toString(), 'ack');
    });

    it('datagrams: 64 KiB minus headers arrives whole', async () => {
      const a = await bind(host);
      const b = await bind(host);
      const size = host === '::1' ? 65_000 : 65_507;
      const big = Buffer.alloc(size, 7);
      const arriving = nextDatagram(b);
      await a.send(big, b.address);
      assert.equal((await arriving).data.length, size);
    });

    it('streams: dial, exchange, end; a large answer crosses with backpressure', async () => {
      const a = await bind(host);
      const b = await bind(host);
      const big = Buffer.alloc(1_000_000, 3);
      b.listen({
        datagram: () => {},
        stream: async (s) => {
          const request = await readAll(s);
          await s.write(Buffer.from(`len=${request.length};`));
          await s.write(big);
          await s.end();
        },
      });
      const stream = await a.dial(b.address, 2000);
      assert.deepEqual(stream.remote, b.address);
      await stream.write(Buffer.from('hello'));
      await stream.end();
      const answer = await readAll(stream);
      assert.equal(answer.subarray(0, 8).toString(), 'len=5;\u0003\u0003');
      assert.equal(answer.length, 6 + big.length);
    });

    it('dial: refused port -> UNAVAILABLE; closed transport -> CLOSED', async () => {
      const t = await bind(host);
      const probe = await bind(host);
      const port = probe.address.port;
      await probe.close();
      await assert.rejects(t.dial({ host, port }, 1000), (e) => isRollcallError(e, 'UNAVAILABLE'));
      await t.close();
      await assert.rejects(t.dial({ host, port }, 1000), (e) => isRollcallError(e, 'CLOSED'));
      await assert.rejects(t.send(Buffer.from('x'), { host, port }), (e) => isRollcallError(e, 'CLOSED'));
    });

    it('bind: a port in use -> CONFLICT naming how to pick another', async () => {
      const t = await bind(host);
      await assert.rejects(bindNetTransport({ host, port: t.address.port, clock }), (e) => {
        assert.ok(isRollcallError(e, 'CONFLICT'));
        assert.match(e.message, /already in use.*pick another port, or port 0/);
        return true;
      });
    });
  });
}

describe('NetTransport options', () => {
  it('bind: a host name or a foreign address is refused with INVALID_OPTIONS', async () => {
    await assert.rejects(bindNetTransport({ host: 'localhost', port: 0, clock }), (e) => isRollcallError(e, 'INVALID_OPTIONS'));
    await assert.rejects(bindNetTransport({ host: '127.0.0.1', port: 70000, clock }), (e) => isRollcallError(e, 'INVALID_OPTIONS'));
    await assert.rejects(bindNetTransport({ host: '192.0.2.77', port: 0, clock }), (e) => isRollcallError(e, 'INVALID_OPTIONS'));
  });

  it('dial: a stream leaves from the bound address, as datagrams do; a wildcard bind lets routing choose', async () => {
    const sourceOfDial = async (from: NetTransport): Promise<string> => {
      const server = await bind('127.0.0.1');
      const seen = new Promise<string>((resolve) =>
        server.listen({
          datagram: () => {},
          stream: (s) => {
            resolve(s.remote.host);
            s.destroy();
          },
        }),
      );
      (await from.dial(server.address, 2_000)).destroy();
      return seen;
    };
    assert.equal(await sourceOfDial(await bind('127.0.0.23')), '127.0.0.23');
    assert.equal(await sourceOfDial(await bind('0.0.0.0')), '127.0.0.1');
  });

  it('close: open streams are destroyed, the port is free again', async () => {
    const a = await bind('127.0.0.1');
    const b = await bind('127.0.0.1');
    let accepted: Stream | undefined;
    b.listen({ datagram: () => {}, stream: (s) => (accepted = s) });
    const stream = await a.dial(b.address, 1000);
    const pending = stream.read();
    while (!accepted) await new Promise((r) => setImmediate(r));
    await b.close();
    assert.equal(accepted.closed, true);
    assert.equal(await pending.catch(() => null), null);
    const again = await bind('127.0.0.1', b.address.port);
    assert.equal(again.address.port, b.address.port);
  });
});
