// The presets, field by field, against memberlist's DefaultLANConfig, DefaultWANConfig and
// DefaultLocalConfig (config.go at 1b4c746): a rollcall node must keep its Go peers' rhythm.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lan, local, wan } from '../../src/adapters/gossip/swim/config.js';

const swimFields = [
  'probeInterval',
  'probeTimeout',
  'indirectChecks',
  'suspicionMult',
  'suspicionMaxTimeoutMult',
  'gossipInterval',
  'gossipNodes',
  'gossipToTheDeadTime',
  'pushPullInterval',
  'retransmitMult',
  'awarenessMaxMultiplier',
  'tcpTimeout',
  'udpBufferSize',
  'enableCompression',
  'disableTcpPings',
] as const;

// Go's values, converted to milliseconds.
const goLan = {
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  gossipInterval: 200,
  gossipNodes: 3,
  gossipToTheDeadTime: 30000,
  pushPullInterval: 30000,
  retransmitMult: 4,
  awarenessMaxMultiplier: 8,
  tcpTimeout: 10000,
  udpBufferSize: 1400,
  enableCompression: true,
  disableTcpPings: false,
};
const goWan = {
  ...goLan,
  tcpTimeout: 30000,
  suspicionMult: 6,
  pushPullInterval: 60000,
  probeTimeout: 3000,
  probeInterval: 5000,
  gossipNodes: 4,
  gossipInterval: 500,
  gossipToTheDeadTime: 60000,
};
const goLocal = {
  ...goLan,
  tcpTimeout: 1000,
  indirectChecks: 1,
  retransmitMult: 2,
  suspicionMult: 3,
  pushPullInterval: 15000,
  probeTimeout: 200,
  probeInterval: 1000,
  gossipInterval: 100,
  gossipToTheDeadTime: 15000,
};

describe('swim presets', () => {
  for (const [name, ours, go] of [
    ['lan', lan, goLan],
    ['wan', wan, goWan],
    ['local', local, goLocal],
  ] as const) {
    it(`${name}: every memberlist field matches`, () => {
      for (const field of swimFields) assert.equal(ours[field], go[field], `${name}.${field}`);
    });
  }

  it('presets are frozen', () => {
    assert.ok(Object.isFrozen(lan) && Object.isFrozen(wan) && Object.isFrozen(local));
  });

  it('probe timeout stays below the probe interval (memberlist#149: otherwise TCP pings break)', () => {
    for (const p of [lan, wan, local]) assert.ok(p.probeTimeout < p.probeInterval);
  });
});
