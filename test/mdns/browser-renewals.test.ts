/**
 * browser.ts under a fake clock: what a renewal (the same record heard again: every announcement
 * is repeated, every heartbeat renews) does to the view. A lone record renewed changes nothing and
 * costs no rebuild; a renewal that makes older data the newest again is a change.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { Browser } from '../../src/adapters/mdns/browser.js';
import type { Message, Rr } from '../../src/adapters/mdns/packet.js';
import type { Service } from '../../src/registry.js';
import { browserHost, codec } from './browser-host.js';

const PEER = '169.254.7.2';

afterEach(() => mock.restoreAll());

function setup() {
  let clock = 1_000_000;
  mock.timers.enable({ apis: ['setTimeout'] });
  const host = browserHost(() => clock);
  const view = host.view;
  const browser = new Browser(host);
  const advance = (ms: number) => {
    clock += ms;
    mock.timers.tick(ms);
  };
  const hear = (records: Rr[]) => {
    const message: Message = { id: 0, response: true, tc: false, questions: [], answers: records, authorities: [], additionals: [] };
    browser.onResponse(message, 'eth0', PEER);
  };
  return { browser, view, advance, hear };
}

/** One node's announcement (PTR, SRV, TXT, A), its SRV on `port`. */
function announcement(port: number): Rr[] {
  const node = { id: 'node-a', address: `169.254.7.10:${port}`, metadata: {} };
  const service: Service = { name: 'svc', version: '1.0.0', metadata: {}, endpoints: [], nodes: [node] };
  const name = codec.instanceName(codec.label(service, node));
  const host = 'node-a-host.local';
  return [
    { name: codec.browseName('svc'), type: 'PTR', ttl: 4500, flush: false, data: name },
    { name, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port, target: host } },
    { name, type: 'TXT', ttl: 4500, flush: true, data: codec.txt(service, node, 1300) },
    { name: host, type: 'A', ttl: 120, flush: true, data: '169.254.7.10' },
  ];
}

describe('mdns browser: renewals', () => {
  it('a repeated announcement leaves the view as it was: the same snapshot, no change to watch', (t) => {
    t.after(() => mock.timers.reset());
    const { view, advance, hear } = setup();
    hear(announcement(8080));
    const first = view.get('svc');
    assert.equal(first[0]?.nodes[0]?.address, '169.254.7.10:8080');
    advance(1000);
    hear(announcement(8080));
    advance(2000);
    hear(announcement(8080));
    assert.equal(view.get('svc'), first, 'no change: the snapshot callers already hold');
  });

  it('older data heard again after an update is the newest once more: the node follows it', (t) => {
    t.after(() => mock.timers.reset());
    const { view, advance, hear } = setup();
    hear(announcement(8080));
    advance(5000);
    // The node moves to port 9090 (cache-flush: the old SRV has a second left) ...
    hear(announcement(9090));
    assert.equal(view.get('svc')[0]?.nodes[0]?.address, '169.254.7.10:9090');
    // ... and within that second the old SRV is announced again: a renewal, but of data the cache
    // holds beside other data under the same name, so it decides again what the node is.
    advance(500);
    hear(announcement(8080));
    assert.equal(view.get('svc')[0]?.nodes[0]?.address, '169.254.7.10:8080');
  });
});
