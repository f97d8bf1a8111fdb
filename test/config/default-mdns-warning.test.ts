/**
 * With no configuration, createRegistry() falls back to mDNS and multicasts on every interface:
 * it says so once, as a process warning with a code, naming the interfaces. Each case is a real
 * child process on a namespace LAN host (multicast never touches the machine's own interfaces),
 * whose environment names no registry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lanSkipReason } from '../mdns/lan-registries.js';
import { createLan, type Lan } from '../peers/lan.js';

const script = fileURLToPath(new URL('./fixtures/create-registries.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

type Line = { warning?: { name: string; code?: string; message: string }; created?: string };

describe('createRegistry without configuration', { skip: lanSkipReason() }, () => {
  let lan: Lan<'dflt'> | undefined;
  before(async () => {
    lan = await createLan({ hosts: ['dflt'], ipv6: false });
  });
  after(() => lan?.destroy());

  async function run(calls: unknown[]): Promise<{ lines: Line[]; stderr: string }> {
    const host = (lan as Lan<'dflt'>).hosts.dflt;
    const { ROLLCALL_REGISTRY: _a, MICRO_REGISTRY: _b, NODE_OPTIONS: _c, NODE_NO_WARNINGS: _d, ...env } = process.env;
    const result = await host.run(process.execPath, ['--import', 'tsx', script, JSON.stringify(calls)], {
      env,
      cwd: root,
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, `the script exits cleanly: ${result.stderr}`);
    const lines = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
    return { lines, stderr: result.stderr };
  }

  it('warns once, with the code ROLLCALL_DEFAULT_MDNS, naming the interfaces it multicasts on', async () => {
    const { lines, stderr } = await run([null, null]);
    assert.deepEqual(
      lines.filter((l) => l.created).map((l) => l.created),
      ['mdns', 'mdns'],
      'both registries fell back to mdns',
    );
    const warnings = lines.filter((l) => l.warning?.code === 'ROLLCALL_DEFAULT_MDNS').map((l) => l.warning);
    assert.equal(warnings.length, 1, `one warning for two registries: ${JSON.stringify(lines)}`);
    assert.equal(warnings[0]?.name, 'RollcallWarning');
    assert.match(warnings[0]?.message ?? '', /multicasts on every usable network interface \(eth0\)/);
    assert.match(stderr, /\[ROLLCALL_DEFAULT_MDNS\] RollcallWarning: no registry configured/, 'Node prints it where a developer sees it');
  });

  it('says nothing when mdns is chosen explicitly', async () => {
    const { lines, stderr } = await run([{ kind: 'mdns' }]);
    assert.deepEqual(
      lines.map((l) => l.created ?? l.warning?.code),
      ['mdns'],
    );
    assert.doesNotMatch(stderr, /ROLLCALL_DEFAULT_MDNS/);
  });
});
