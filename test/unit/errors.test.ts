import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, isRollcallError, RollcallError } from '../../src/index.js';

const table: Array<[ErrorCode, boolean]> = [
  ['NOT_FOUND', false],
  ['INVALID_SERVICE', false],
  ['INVALID_OPTIONS', false],
  ['TOO_LARGE', false],
  ['CLOSED', false],
  ['UNAVAILABLE', true],
  ['PERMISSION_DENIED', false],
  ['TIMEOUT', true],
  ['BAD_RESPONSE', false],
  ['CONFLICT', false],
  ['UNSUPPORTED', false],
  ['NONE_AVAILABLE', false],
];

describe('errors', () => {
  for (const [code, retryable] of table) {
    it(`${code}: code, retryable ${retryable}, adapter prefix, cause`, () => {
      const cause = new Error('root');
      const e = new RollcallError(code, 'something happened', { adapter: 'consul', cause });
      assert.equal(e.code, code);
      assert.equal(e.retryable, retryable);
      assert.equal(e.adapter, 'consul');
      assert.equal(e.cause, cause);
      assert.equal(e.name, 'RollcallError');
      assert.equal(e.message, '[rollcall] [consul] something happened');
      assert.ok(isRollcallError(e, code));
      assert.ok(e instanceof Error && e instanceof RollcallError);
    });
  }

  it('brand: an error from another copy of the package is recognised by code', () => {
    // What a second, bundled copy would create: a different class carrying the same global brand.
    class OtherCopy extends Error {
      code = 'NOT_FOUND';
      get [Symbol.for('rollcall.error')]() {
        return true;
      }
    }
    const foreign = new OtherCopy('x');
    assert.ok(isRollcallError(foreign, 'NOT_FOUND'));
    assert.ok(foreign instanceof RollcallError);
    assert.ok(!isRollcallError(foreign, 'CLOSED'));
    assert.ok(!isRollcallError(new Error('plain')));
    assert.ok(!(new Error('plain') instanceof RollcallError));
  });
});
