/**
 * The fast paths in front of the service checks answer exactly what the full checks would:
 * checked against the regular expressions they replace, over every character of the Basic
 * Multilingual Plane and over generated text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hasAsciiUpper, isAscii, isPlainAscii, isPlainIpv4Port } from '../../src/plain-text.js';

/** The checks the fast paths stand in front of (service.ts). */
const controlOrSpace = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]/u;
const control = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4_PORT = new RegExp(`^(?:${OCTET}\\.){3}${OCTET}:([1-9][0-9]{0,4})$`);
const oracleIpv4Port = (s: string) => {
  const m = IPV4_PORT.exec(s);
  return m !== null && Number(m[1]) <= 65535;
};

describe('plain text: names', () => {
  it('printable ASCII holds nothing the name checks refuse; everything else is left to them', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c);
      if (isPlainAscii(ch, false)) assert.equal(controlOrSpace.test(ch), false, `U+${c.toString(16)}`);
      if (isPlainAscii(ch, true)) assert.equal(control.test(ch), false, `U+${c.toString(16)}`);
    }
    assert.equal(isPlainAscii('greeter-1.v2_a~!', false), true);
    assert.equal(isPlainAscii('with space', false), false, 'a space is for the full check of a name');
    assert.equal(isPlainAscii('with space', true), true, 'and fine where only control characters are refused');
    assert.equal(isPlainAscii('tab\there', true), false);
    assert.equal(isPlainAscii('del\u007f', true), false);
    assert.equal(isPlainAscii('café', false), false, 'non-ASCII goes to the full check');
    assert.equal(isPlainAscii('', false), true);
  });

  it('never passes text the full checks refuse (generated strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), fc.boolean(), (s, space) => {
        if (isPlainAscii(s, space)) assert.equal((space ? control : controlOrSpace).test(s), false);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('plain text: ASCII and capitals', () => {
  it('agree with the patterns they replace, character by character and on generated text', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c);
      assert.equal(isAscii(ch), !/[\u0080-\uffff]/.test(ch), `U+${c.toString(16)}`);
      assert.equal(hasAsciiUpper(ch), /[A-Z]/.test(ch), `U+${c.toString(16)}`);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        assert.equal(isAscii(s), !/[\u0080-\uffff]/.test(s));
        assert.equal(hasAsciiUpper(s), /[A-Z]/.test(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('plain text: IPv4 addresses', () => {
  it('accepts exactly dotted quads with a port, without leading zeros, in range', () => {
    for (const s of ['10.0.0.7:8080', '0.0.0.0:1', '255.255.255.255:65535', '1.22.133.244:9', '199.249.250.0:10000']) {
      assert.equal(isPlainIpv4Port(s), true, s);
    }
    for (const s of [
      '10.0.0.7',
      '10.0.0.7:',
      '10.0.0.7:0',
      '10.0.0.7:080',
      '10.0.0.7:65536',
      '10.0.0.7:123456',
      '256.0.0.1:80',
      '01.0.0.1:80',
      '1.2.3:80',
      '1.2.3.4.5:80',
      '1..3.4:80',
      '1.2.3.4:80 ',
      ' 1.2.3.4:80',
      '1.2.3.4:+80',
      '1.2.3.4::80',
      '1234.1.1.1:80',
      '[::1]:80',
      'host.local:80',
      '',
    ]) {
      assert.equal(isPlainIpv4Port(s), false, s);
    }
  });

  it('agrees with the regular expression it replaces (generated addresses and strings)', () => {
    const near = fc
      .array(fc.constantFrom('0', '1', '2', '5', '9', '25', '255', '256', '65535', '65536', '.', ':', 'a', ' ', '00'), { maxLength: 14 })
      .map((parts) => parts.join(''));
    const quad = fc
      .tuple(fc.array(fc.nat(300), { minLength: 4, maxLength: 4 }), fc.nat(70_000), fc.boolean())
      .map(([octets, port, pad]) => `${octets.map((o) => (pad && o < 10 ? `0${o}` : `${o}`)).join('.')}:${port}`);
    fc.assert(
      fc.property(fc.oneof(near, quad, fc.string({ maxLength: 24 })), (s) => {
        assert.equal(isPlainIpv4Port(s), oracleIpv4Port(s), JSON.stringify(s));
      }),
      { numRuns: 20_000 },
    );
  });
});
