/** assembler.ts: nodes from cached records, one report per bad node, and a node that becomes valid is taken at once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Assembler } from '../../src/adapters/mdns/assembler.js';
import { RecordCache } from '../../src/adapters/mdns/cache.js';
import { DnsSdCodec } from '../../src/adapters/mdns/dns-sd.js';
import type { Rr } from '../../src/adapters/mdns/packet.js';
import { ServiceView } from '../../src/view.js';

function setup() {
  const drops: string[] = [];
  const cache = new RecordCache({ maxRecords: 100, now: () => 0, events: { expired() {}, refresh() {} } });
  const view = new ServiceView({ adapter: 'mdns' });
  const assembler = new Assembler({ codec: new DnsSdCodec(), view, cache, noteDrop: (reason) => drops.push(reason) });
  const instance = 'n1._rollcall._tcp.local';
  const put = (rr: Rr) => cache.add(rr, 'eth0');
  const srv = (port: number): Rr => ({
    name: instance,
    type: 'SRV',
    ttl: 120,
    flush: true,
    data: { priority: 0, weight: 0, port, target: 'h.local' },
  });
  const txt = (...strings: string[]): Rr => ({
    name: instance,
    type: 'TXT',
    ttl: 120,
    flush: true,
    data: strings.map((s) => Buffer.from(s)),
  });
  put({ name: 'h.local', type: 'A', ttl: 120, flush: true, data: '10.0.0.9' });
  return { drops, view, put, srv, txt, assemble: () => assembler.assemble(instance) };
}

describe('assembler', () => {
  it('a TXT it cannot read is reported once, not once per announcement; a new TXT is read again', () => {
    const { drops, view, put, srv, txt, assemble } = setup();
    put(srv(80));
    put(txt('name=greeter', 'id=n1'));
    for (let i = 0; i < 3; i++) assert.equal(assemble().complete, false);
    assert.equal(drops.length, 1, drops.join('\n'));
    assert.match(drops[0] ?? '', /txtvers/);
    put(txt('txtvers=1', 'name=greeter', 'id=n1'));
    assert.equal(assemble().complete, true);
    assert.deepEqual(
      view.get('greeter').flatMap((s) => s.nodes.map((n) => n.address)),
      ['10.0.0.9:80'],
    );
  });

  it('a node refused for its address is taken as soon as the SRV is mended, with the same TXT', () => {
    const { drops, view, put, srv, txt, assemble } = setup();
    put(srv(0));
    put(txt('txtvers=1', 'name=greeter', 'id=n1'));
    assert.equal(assemble().complete, false);
    assert.equal(assemble().complete, false);
    assert.equal(drops.length, 1, drops.join('\n'));
    assert.match(drops[0] ?? '', /port/);
    put(srv(8080));
    assert.equal(assemble().complete, true);
    assert.deepEqual(
      view.get('greeter').flatMap((s) => s.nodes.map((n) => n.address)),
      ['10.0.0.9:8080'],
    );
  });
});
