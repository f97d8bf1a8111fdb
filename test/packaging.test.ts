/**
 * The package as users get it: packed, linted by publint and attw, then installed into a fresh
 * project and loaded with `import` and with `require` (require(esm), Node >= 20.19).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
let work: string;
let tarball: string;

describe('packaging', { timeout: 180_000 }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'rollcall-pack-'));
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8' }).trim().split('\n');
    tarball = join(work, out.at(-1) as string);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('publint: no errors or warnings', async () => {
    const { publint } = await import('publint');
    const { messages } = await publint({ pkgDir: root, level: 'warning', pack: false });
    assert.deepEqual(
      messages.map((m) => `${m.type} ${m.code} ${m.path.join('.')}`),
      [],
    );
  });

  it('attw: types resolve for every entry point (ESM-only; require(esm) covers CommonJS callers)', () => {
    let output = '';
    try {
      output = execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'json'], { encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    // The esm-only profile ignores node10 and node16-cjs resolution: ESM-only is deliberate, and
    // CommonJS callers on Node >= 20.19 load it with require(esm), which the smoke test checks.
    const report = JSON.parse(output) as { analysis?: { problems?: Array<{ kind: string; entrypoint: string; resolutionKind?: string }> } };
    const counted = (report.analysis?.problems ?? []).filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
    assert.ok(report.analysis?.problems, 'attw produced a report');
    assert.deepEqual(counted, []);
  });

  it('smoke: a fresh project loads every entry point with import and with require', () => {
    const project = join(work, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // Prefer the cache, but let npm fetch what it lacks: `npm ci` caches tarballs, not the package
    // metadata a fresh install resolves versions from, so a machine that only ever ran `npm ci` has none.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: project, stdio: 'pipe' });
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const subpaths = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'rollcall' : `rollcall/${k.slice(2)}`));
    writeFileSync(
      join(project, 'check.mjs'),
      `for (const s of ${JSON.stringify(subpaths)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); }
const { createRegistry } = await import('rollcall');
const r = await createRegistry('memory://smoke');
await r.register({ name: 'smoke', nodes: [{ address: '10.0.0.1:80' }] });
console.log('esm', (await r.getService('smoke'))[0].nodes.length);
await r.close();`,
    );
    writeFileSync(
      join(project, 'check.cjs'),
      `for (const s of ${JSON.stringify(subpaths)}) { const m = require(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); }
const { isRollcallError, RollcallError } = require('rollcall');
console.log('cjs', isRollcallError(new RollcallError('NOT_FOUND', 'x'), 'NOT_FOUND'));`,
    );
    const esm = execFileSync(process.execPath, ['check.mjs'], { cwd: project, encoding: 'utf8' });
    const cjs = execFileSync(process.execPath, ['check.cjs'], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
    assert.equal(esm.trim(), 'esm 1');
    assert.equal(cjs.trim(), 'cjs true');
  });

  it('bin: the installed `rollcall` command runs (nothing registered: exit 1, an empty JSON list)', () => {
    const project = join(work, 'app');
    const run = spawnSync(join(project, 'node_modules', '.bin', 'rollcall'), ['services', '--registry', 'memory', '--json'], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stdout.trim(), '[]');
    assert.equal(spawnSync(join(project, 'node_modules', '.bin', 'rollcall'), ['--help'], { encoding: 'utf8' }).status, 0);
  });
});
