/**
 * The go-micro profile against Go: a peer built on hashicorp/mdns (the library Go Micro's mdns
 * registry forked), with Go Micro's encode/decode, on other LAN hosts. Go finds our node and
 * decodes its TXT exactly as Go Micro's GetService does; a node Go serves in Go Micro's format is
 * found by our browser with its version, metadata and endpoints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { buildGoMdns, type GoMdnsEntry, queryGoMdns } from '../peers/go-mdns.js';
import { createLan, type Lan, stopChild, waitForLine } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason(['go-mdns']);
const goMicro = { kind: 'mdns', profile: 'go-micro' } as const;

type GoMicroEntry = GoMdnsEntry & { gomicro?: { Service: string; Version: string; Endpoints: unknown; Metadata: Record<string, string> } };

describe('mdns: Go interop (go-micro profile)', { timeout: 180_000, skip, concurrency: true }, () => {
  let lan: Lan<'ours' | 'go' | 'reader' | 'rc1' | 'rc2'>;
  before(async () => {
    [lan] = await Promise.all([createLan({ hosts: ['ours', 'go', 'reader', 'rc1', 'rc2'], ipv6: true }), buildGoMdns()]);
  });
  after(() => lan?.destroy());

  it('go: a Go hashicorp/mdns client finds our node and decodes its TXT as Go Micro does', async (t) => {
    const ours = await spawnRegistry({ options: goMicro, netns: lan.hosts.ours.netns });
    t.after(() => ours.kill());
    const endpoints = [
      {
        name: 'Say.Hello',
        request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string', values: null }] },
        response: { name: 'Response', type: 'Response', values: null },
        metadata: { stream: 'false' },
      },
    ];
    await ours.register({
      name: 'go.micro.srv.greeter',
      version: '1.0.0',
      endpoints,
      nodes: [{ id: 'greeter-1', address: `${lan.hosts.ours.address}:8080`, metadata: { protocol: 'mucp', broker: 'http' } }],
    });
    let entries: GoMicroEntry[] = [];
    await eventually(
      async () => {
        entries = (await queryGoMdnsMicro('go.micro.srv.greeter')).filter((e) => e.name.startsWith('greeter-1.'));
        return entries.length > 0;
      },
      15_000,
      'the Go client to find our node',
      200,
    );
    const [entry] = entries;
    assert.equal(entry?.name, 'greeter-1.go.micro.srv.greeter.micro.');
    assert.equal(entry?.addrV4, lan.hosts.ours.address);
    assert.equal(entry?.port, 8080);
    assert.deepEqual(entry?.gomicro, {
      Service: 'go.micro.srv.greeter',
      Version: '1.0.0',
      Endpoints: endpoints,
      Metadata: { broker: 'http', protocol: 'mucp' },
    });
    // Go Micro's ListServices browses the listing entries.
    const listing = await queryGoMdnsMicro('_services');
    assert.ok(
      listing.some((e) => e.name === 'go.micro.srv.greeter._services.micro.' && e.port === 9999),
      JSON.stringify(listing.map((e) => e.name)),
    );

    async function queryGoMdnsMicro(service: string): Promise<GoMicroEntry[]> {
      const bin = await buildGoMdns();
      const child = lan.hosts.go.exec(bin, ['query', '-service', service, '-domain', 'micro', '-timeout', '800ms', '-gomicro']);
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      await new Promise((resolve) => child.once('close', resolve));
      return out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as GoMicroEntry);
    }
  });

  it('go: a node Go serves in Go Micro format is found with its version, metadata and endpoints', async (t) => {
    const bin = await buildGoMdns();
    const endpoints = [
      {
        name: 'Weather.Forecast',
        request: { name: 'ForecastRequest', type: 'ForecastRequest', values: [{ name: 'city', type: 'string', values: null }] },
        response: { name: 'ForecastResponse', type: 'ForecastResponse', values: [{ name: 'days', type: '[]Day', values: null }] },
        metadata: {},
      },
    ];
    const spec = {
      service: 'go.micro.srv.weather',
      version: '2.1.0',
      id: 'weather-7',
      endpoints,
      metadata: { protocol: 'grpc', registry: 'mdns' },
    };
    const server = lan.hosts.go.exec(bin, ['serve', '-gomicro', JSON.stringify(spec), '-port', '9090', '-ip', lan.hosts.go.address]);
    t.after(() => stopChild(server, 1000));
    await waitForLine(server.stdout, /"event":"ready"/, 10_000, 'the Go Micro node');

    const reader = await spawnRegistry({ options: goMicro, netns: lan.hosts.reader.netns });
    t.after(() => reader.kill());
    let found: Awaited<ReturnType<typeof reader.getService>> = [];
    await eventually(
      async () => {
        found = await reader.getService('go.micro.srv.weather', { timeout: 2000 }).catch(() => []);
        return found.length === 1;
      },
      10_000,
      'our browser to find the Go node',
      200,
    );
    const [service] = found;
    assert.equal(service?.version, '2.1.0');
    assert.deepEqual(service?.endpoints, endpoints);
    assert.equal(service?.nodes[0]?.id, 'weather-7');
    assert.equal(service?.nodes[0]?.address, `${lan.hosts.go.address}:9090`);
    assert.deepEqual(service?.nodes[0]?.metadata, { protocol: 'grpc', registry: 'mdns' });
    // Listing and watching everything go through Go Micro's _services entries.
    assert.ok((await reader.listServices()).some((s) => s.name === 'go.micro.srv.weather' && s.version === '2.1.0'));
  });

  it('go-micro profile: two rollcall hosts find each other, updates and goodbyes included', async (t) => {
    const [a, b] = await Promise.all([
      spawnRegistry({ options: goMicro, netns: lan.hosts.rc1.netns }),
      spawnRegistry({ options: goMicro, netns: lan.hosts.rc2.netns }),
    ]);
    t.after(() => Promise.allSettled([a.kill(), b.kill()]));
    const rec = new Recorder(b.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    const first = await a.register({
      name: 'go.micro.srv.echo',
      version: 'latest',
      nodes: [{ id: 'echo-1', address: `${lan.hosts.rc1.address}:7070` }],
    });
    await rec.until((r) => r.nodeIds('go.micro.srv.echo').length === 1, 10_000, 'create');
    // Registering the node again takes it over: the new registration is the one that says goodbye.
    const reg = await a.register({
      name: 'go.micro.srv.echo',
      version: 'latest',
      nodes: [{ id: 'echo-1', address: `${lan.hosts.rc1.address}:7070`, metadata: { v: '2' } }],
    });
    await rec.until((r) => r.state.get('go.micro.srv.echo@latest')?.nodes[0]?.metadata.v === '2', 10_000, 'update');
    // The first registration is still alive: left alone, its next heartbeat would find the node gone
    // and publish it again (a registration lasts until its own deregister). It lets go first, silently.
    await first.deregister();
    await reg.deregister();
    await rec.until((r) => r.nodeIds('go.micro.srv.echo').length === 0, 5000, 'delete');
    const after = await queryGoMdns(lan.hosts.rc2, { service: 'go.micro.srv.echo', domain: 'micro', timeoutMs: 500 });
    assert.deepEqual(after.entries, [], 'nothing answers for the node after its goodbye');
  });
});
