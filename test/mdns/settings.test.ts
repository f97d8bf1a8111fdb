/** mdns option checks: every bad option is INVALID_OPTIONS before any socket opens. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MdnsOptions } from '../../src/adapters/mdns/index.js';
import { resolveOptions } from '../../src/adapters/mdns/settings.js';
import { isRollcallError } from '../../src/index.js';

describe('mdns settings', () => {
  it('domain: a non-string domain is INVALID_OPTIONS, not a TypeError', () => {
    for (const domain of [42, {}, ['local'], true]) {
      assert.throws(
        () => resolveOptions({ domain } as unknown as MdnsOptions),
        (e) => isRollcallError(e, 'INVALID_OPTIONS') && /domain must be a string/.test((e as Error).message),
        `domain ${JSON.stringify(domain)}`,
      );
    }
  });

  it('domain: a trailing dot is dropped; the default follows the profile', () => {
    assert.equal(resolveOptions({ domain: 'example.' }).settings.domain, 'example');
    assert.equal(resolveOptions({}).settings.domain, 'local');
    assert.equal(resolveOptions({ profile: 'go-micro' }).settings.domain, 'micro');
  });
});
