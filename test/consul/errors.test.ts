/** Consul answers and transport failures as rollcall errors: one table, codes and messages. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { consulText, isFatal, isUnreachable, statusError, transportError } from '../../src/adapters/consul/errors.js';

const ctx = { what: 'register "web-1"', right: 'service:write on "web"', hasToken: true };

describe('consul errors', () => {
  test('status: table of codes and what the message says', () => {
    const cases: Array<[number, string, Partial<typeof ctx> & { badRequest?: 'INVALID_SERVICE' }, string, boolean, RegExp]> = [
      [403, 'Permission denied', {}, 'PERMISSION_DENIED', false, /the token lacks service:write on "web" \(Consul: Permission denied\)/],
      [
        403,
        'Permission denied',
        { hasToken: false },
        'PERMISSION_DENIED',
        false,
        /no token was given .*service:write on "web".*CONSUL_HTTP_TOKEN/,
      ],
      [403, 'ACL not found', {}, 'PERMISSION_DENIED', false, /not known to Consul \(ACL not found\)/],
      [
        403,
        `Permission denied: token with AccessorID 'a1' lacks permission 'service:read' on "db"`,
        {},
        'PERMISSION_DENIED',
        false,
        /lacks service:read on "db"/,
      ],
      [429, 'rate limit exceeded', {}, 'UNAVAILABLE', true, /rate limiting or not ready \(429/],
      [503, '', {}, 'UNAVAILABLE', true, /\(503: \(empty body\)\)/],
      [500, 'No cluster leader', {}, 'UNAVAILABLE', true, /Consul failed \(500: No cluster leader\)/],
      [400, 'Invalid service address', { badRequest: 'INVALID_SERVICE' }, 'INVALID_SERVICE', false, /refused the service definition/],
      [400, 'Namespaces are a Consul Enterprise feature', {}, 'BAD_RESPONSE', false, /unexpected answer 400/],
      [404, 'not found', {}, 'BAD_RESPONSE', false, /unexpected answer 404/],
    ];
    for (const [status, text, extra, code, retryable, message] of cases) {
      const e = statusError(status, text, '10.0.0.1:8500', { ...ctx, ...extra }, 's3cr3t');
      assert.equal(e.code, code, `${status} ${text}`);
      assert.equal(e.retryable, retryable, `${status} retryable`);
      assert.match(e.message, message);
      assert.match(e.message, /^\[rollcall\] \[consul\] register "web-1" on 10\.0\.0\.1:8500: /);
      assert.equal(e.adapter, 'consul');
    }
  });

  test('status: the token never reaches a message, even when Consul echoes it', () => {
    const e = statusError(403, 'token s3cr3t-uuid is bogus', 'a:1', ctx, 's3cr3t-uuid');
    assert.ok(!e.message.includes('s3cr3t-uuid'));
    assert.match(e.message, /<token>/);
    assert.equal(consulText(`${'x'.repeat(300)}\n`).length, 201);
  });

  test('transport: table of causes', () => {
    const cases: Array<[object, string, boolean, RegExp, boolean]> = [
      [{ code: 'ECONNREFUSED' }, 'UNAVAILABLE', true, /cannot reach Consul \(ECONNREFUSED\)/, true],
      [{ code: 'UND_ERR_SOCKET', message: 'other side closed' }, 'UNAVAILABLE', true, /UND_ERR_SOCKET/, true],
      [{ code: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'UNAVAILABLE', false, /certificate is not trusted .*CONSUL_CACERT/, true],
      [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'UNAVAILABLE', false, /does not name this host/, true],
      [{ code: 'HPE_INVALID_CONSTANT' }, 'BAD_RESPONSE', false, /not valid HTTP/, true],
      [{ code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' }, 'BAD_RESPONSE', false, /size limit/, true],
      [{ code: 'EPROTO' }, 'UNAVAILABLE', true, /TLS handshake failed/, true],
    ];
    for (const [cause, code, retryable, message, fatalUnlessRetryable] of cases) {
      const e = transportError(Object.assign(new Error('x'), cause), '10.0.0.1:8500', 'GET /v1/catalog/services');
      assert.equal(e.code, code, JSON.stringify(cause));
      assert.equal(e.retryable, retryable);
      assert.match(e.message, message);
      assert.equal(isUnreachable(e), retryable);
      if (fatalUnlessRetryable) assert.equal(isFatal(e), code === 'UNAVAILABLE' && !retryable);
    }
    assert.equal(isUnreachable(statusError(500, 'x', 'a', ctx)), false, 'an agent answering 500 was reached');
    assert.equal(isFatal(statusError(403, 'x', 'a', ctx)), true);
  });
});
