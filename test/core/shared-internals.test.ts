/**
 * Each shared helper exists once (src/internal/): a copy elsewhere in src/ drifts from it. This
 * test fails on the tell-tale of a copy: a NUL-joined key built by hand instead of with joinKey,
 * `networkInterfaces()` walked outside the interfaces module, a socket bound outside the binder,
 * a token bucket or backoff written again.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

const RULES: Array<{ what: string; pattern: RegExp; home: string }> = [
  { what: 'a NUL-joined key (use joinKey)', pattern: /\\u0000|\\0(?![0-7])|\\x00/, home: 'internal/keys.ts' },
  { what: 'networkInterfaces() (use listInterfaces)', pattern: /networkInterfaces\s*\(/, home: 'internal/interfaces.ts' },
  {
    what: 'a socket bound by hand (use bindUdp / listenTcp)',
    pattern: /\.bind\(\s*(\{\s*(address|port)|\d)|\.listen\(\s*\{\s*(host|port)/,
    home: 'internal/bind.ts',
  },
  { what: 'a token bucket (use TokenBucket)', pattern: /class\s+\w*Bucket\b/, home: 'internal/token-bucket.ts' },
];

function offenders(): string[] {
  const found: string[] = [];
  for (const file of readdirSync(src, { recursive: true }).map(String)) {
    if (!file.endsWith('.ts')) continue;
    const lines = readFileSync(join(src, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/\/\*.*?\*\//g, '');
      if (/^\s*\*/.test(code)) return;
      for (const rule of RULES) if (file !== rule.home && rule.pattern.test(code)) found.push(`src/${file}:${i + 1}: ${rule.what}`);
    });
  }
  return found;
}

it('shared internals: no copy of a shared helper in src/', () => {
  assert.deepEqual(offenders(), []);
});

it('shared internals: the rules do catch a copy', () => {
  const copy = [
    "const k = a + '\\u0000' + b;",
    'for (const x of Object.values(networkInterfaces())) {}',
    'socket.bind({ port: 0 });',
    'class RateBucket {}',
  ];
  for (const line of copy)
    assert.ok(
      RULES.some((r) => r.pattern.test(line)),
      line,
    );
});
