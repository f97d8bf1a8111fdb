/**
 * Creating a gossip registry: by kind, by URL and from Go Micro's environment variables (seeds from
 * MICRO_REGISTRY_ADDRESS), a port in use as a typed error, bad options as INVALID_OPTIONS, a seed
 * that comes up late joined by the retries.
 * Real sockets on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRegistry, isRollcallError, type Registry } from '../../src/index.js';

const until = async (check: () => Promise<boolean>, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

it('gossip: by URL and from MICRO_REGISTRY / MICRO_REGISTRY_ADDRESS; members() lists both', async (t) => {
  const seed = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port: 0, preset: 'local' });
  t.after(() => seed.close());
  const address = String(seed.stats().address);
  const byUrl = await createRegistry(`gossip://${address}?preset=local&bind=127.0.0.1&port=0`);
  t.after(() => byUrl.close());
  const byEnv: Registry = await createRegistry({ bind: '127.0.0.1', port: 0, preset: 'local' } as never, {
    MICRO_REGISTRY: 'gossip',
    MICRO_REGISTRY_ADDRESS: address,
  });
  t.after(() => byEnv.close());
  assert.equal(byEnv.kind, 'gossip');
  await byUrl.register({ name: 'envtest', nodes: [{ id: 'e1', address: '127.0.0.1:9999' }] });
  await until(async () => (await byEnv.getService('envtest').catch(() => [])).length === 1, 3_000, 'the service on the env registry');
  const members = await (seed.members as () => Promise<{ status: string }[]>)();
  assert.deepEqual(
    members.map((m) => m.status),
    ['alive', 'alive', 'alive'],
  );
});

it('gossip: a port in use is CONFLICT naming the remedy; bad options are INVALID_OPTIONS', async (t) => {
  const first = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port: 0, preset: 'local' });
  t.after(() => first.close());
  const port = Number(String(first.stats().address).split(':').at(-1));
  await assert.rejects(
    createRegistry({ kind: 'gossip', bind: '127.0.0.1', port, preset: 'local' }),
    (e) => isRollcallError(e, 'CONFLICT') && /pick another port/.test((e as Error).message),
  );
  for (const options of [
    { port: 70_000 },
    { bind: 'localhost' },
    { preset: 'fast' },
    { keyring: [new Uint8Array(10)] },
    { address: 'x:y' },
    { tags: { role: 'api' } }, // serf tags without the serf profile
    { profile: 'serf', tags: { rollcall: '2' } }, // rollcall's own tag
    { profile: 'serf', tags: { role: 7 } },
    { profile: 'serf', tags: { big: 'x'.repeat(600) } }, // over serf's Meta
  ]) {
    await assert.rejects(
      createRegistry({ kind: 'gossip', ...options } as never),
      (e) => isRollcallError(e, 'INVALID_OPTIONS'),
      JSON.stringify(options),
    );
  }
  await assert.rejects(
    createRegistry({ kind: 'gossip', profile: 'consul' } as never),
    (e) => isRollcallError(e, 'UNSUPPORTED') && /'memberlist' or 'serf'/.test((e as Error).message),
  );
});

it('gossip: a keyring (16-byte key) encrypts the cluster; a member with another key learns nothing', async (t) => {
  const key = Buffer.alloc(16, 7).toString('base64');
  const other = Buffer.alloc(16, 9).toString('base64');
  const a = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port: 0, preset: 'local', keyring: [key] });
  t.after(() => a.close());
  const address = String(a.stats().address);
  const b = await createRegistry({ kind: 'gossip', address, bind: '127.0.0.1', port: 0, preset: 'local', keyring: [key] });
  t.after(() => b.close());
  const wrong = await createRegistry({ kind: 'gossip', address, bind: '127.0.0.1', port: 0, preset: 'local', keyring: [other] });
  t.after(() => wrong.close());
  await a.register({ name: 'keyed', nodes: [{ id: 'k1', address: '127.0.0.1:9998' }] });
  await until(async () => (await b.getService('keyed').catch(() => [])).length === 1, 3_000, 'the service on the keyed member');
  await new Promise((r) => setTimeout(r, 500));
  await assert.rejects(wrong.getService('keyed'), (e) => isRollcallError(e, 'NOT_FOUND'));
  assert.equal(Number(wrong.stats().liveMembers), 0, 'the member with the wrong key joined nobody');
});

it('gossip: a seed that is not up yet is retried with backoff; once it answers, the member joins and its watch sees', async (t) => {
  // A port that was free a moment ago, for a seed that starts later.
  const probe = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port: 0, preset: 'local' });
  const seedAddress = String(probe.stats().address);
  await probe.close();
  const early = await createRegistry({ kind: 'gossip', address: seedAddress, bind: '127.0.0.1', port: 0, preset: 'local' });
  t.after(() => early.close());
  const watcher = early.watch({ service: 'late-seed' });
  t.after(() => watcher.stop());
  await watcher.synced;
  const members = () => (early as unknown as { members(): Promise<{ status: string }[]> }).members();
  assert.deepEqual((await members()).length, 1, 'alone while the seed is down');
  // Retries come 1, 3 and 7 s after the failed start (the delay doubles): the seed comes up after the second.
  await new Promise((r) => setTimeout(r, 3_500));
  const port = Number(seedAddress.split(':')[1]);
  const seed = await createRegistry({ kind: 'gossip', bind: '127.0.0.1', port, preset: 'local' });
  t.after(() => seed.close());
  // The third retry, due 7 s after the start, finds it; the wait ends before the fourth (15 s).
  await until(async () => (await members()).filter((m) => m.status === 'alive').length === 2, 8_000, 'the retry to join the seed');
  const seen = new Promise<string>((resolve) => {
    void (async () => {
      for await (const event of watcher) if (event.type === 'create') return resolve(event.service.nodes[0]?.id ?? '');
    })();
  });
  await seed.register({ name: 'late-seed', nodes: [{ id: 'ls-1', address: '127.0.0.1:9001' }] });
  assert.equal(await seen, 'ls-1');
});
