/** interfaces.ts: which interface a source is on-link for (RFC 6762 §11), and what changed between two polls. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attribute, diffInterfaces, interfacesKey, type NetInterface, noInterfaceError } from '../../src/adapters/mdns/interfaces.js';
import { isRollcallError } from '../../src/index.js';

const eth0: NetInterface = {
  name: 'eth0',
  v4: [{ address: '192.168.1.10', netmask: '255.255.255.0' }],
  v6: [
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', scopeid: 2 },
    { address: '2001:db8::10', netmask: 'ffff:ffff:ffff:ffff::' },
  ],
};
const wlan0: NetInterface = { name: 'wlan0', v4: [{ address: '10.0.0.5', netmask: '255.255.0.0' }], v6: [] };

describe('interfaces', () => {
  it('attribute: IPv4 by subnet; anything outside every subnet is off-link', () => {
    assert.equal(attribute([eth0, wlan0], '192.168.1.77', 4)?.name, 'eth0');
    assert.equal(attribute([eth0, wlan0], '10.0.200.1', 4)?.name, 'wlan0');
    assert.equal(attribute([eth0, wlan0], '192.168.2.1', 4), undefined);
    assert.equal(attribute([eth0, wlan0], '127.0.0.1', 4), undefined);
    assert.equal(attribute([eth0], 'not an address', 4), undefined);
  });

  it('attribute: IPv6 link-local by its zone, global by prefix', () => {
    assert.equal(attribute([eth0, wlan0], 'fe80::abcd%eth0', 6)?.name, 'eth0');
    assert.equal(attribute([eth0, wlan0], 'fe80::abcd%wlan0', 6), undefined, 'wlan0 has no IPv6');
    assert.equal(attribute([eth0], '2001:db8::99', 6)?.name, 'eth0');
    assert.equal(attribute([eth0], '2001:db9::99', 6), undefined);
  });

  it('diff: new or re-addressed interfaces count as added, vanished ones as removed', () => {
    const moved: NetInterface = { ...wlan0, v4: [{ address: '10.0.0.6', netmask: '255.255.0.0' }] };
    const { added, removed } = diffInterfaces([eth0, wlan0], [moved]);
    assert.deepEqual(
      added.map((i) => i.name),
      ['wlan0'],
    );
    assert.deepEqual(
      removed.map((i) => i.name),
      ['eth0'],
    );
    assert.equal(interfacesKey([eth0]), interfacesKey([{ ...eth0 }]));
  });

  it('no interface: UNSUPPORTED, with what to do in Docker and WSL2', () => {
    const error = noInterfaceError(['eth9']);
    assert.ok(isRollcallError(error, 'UNSUPPORTED'));
    assert.match(error.message, /interfaces option \(eth9\)/);
    assert.match(error.message, /--network host/);
    assert.match(error.message, /mirrored/);
  });
});
