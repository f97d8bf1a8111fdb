/**
 * The dns-sd profile against a real DNS-SD implementation, avahi-daemon 0.8, on another LAN
 * host, both ways: avahi-browse lists our nodes with readable TXT, and a service avahi publishes
 * in our TXT format is found by our browser.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Recorder } from '../conformance/helpers.js';
import { spawnRegistry } from '../harness/remote.js';
import { type AvahiDaemon, createLan, type Lan, startAvahi } from '../peers/lan.js';
import { lanSkipReason } from './lan-registries.js';

const skip = lanSkipReason(['avahi']);

describe('mdns: avahi interop (dns-sd profile)', { timeout: 120_000, skip, concurrency: true }, () => {
  let lan: Lan<'ours' | 'theirs' | 'reader'>;
  let avahi: AvahiDaemon;
  before(async () => {
    lan = await createLan({ hosts: ['ours', 'theirs', 'reader'], ipv6: false });
    avahi = await startAvahi(lan.hosts.theirs, { hostName: 'avahi-peer' });
  });
  after(async () => {
    await avahi?.stop();
    await lan?.destroy();
  });

  it('avahi-browse -rt _rollcall._tcp lists our nodes with readable TXT', async (t) => {
    const ours = await spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.ours.netns });
    t.after(() => ours.kill());
    const address = lan.hosts.ours.address;
    await ours.register({
      name: 'greeter',
      version: '1.0.0',
      metadata: { team: 'core' },
      nodes: [{ id: 'greeter-1', address: `${address}:8080`, metadata: { protocol: 'http' } }],
    });
    await ours.register({
      name: 'go.micro.srv.long-and-dotted',
      nodes: [{ id: `go.micro.srv.${'x'.repeat(80)}`, address: `${address}:8081` }],
    });
    let found: Awaited<ReturnType<AvahiDaemon['browse']>> = [];
    await eventually(
      async () => {
        found = await avahi.browse('_rollcall._tcp');
        return found.some((s) => s.name === 'greeter-1') && found.some((s) => s.name.startsWith('go-micro-srv-'));
      },
      20_000,
      'avahi-browse to list both nodes',
      500,
    );
    const greeter = found.find((s) => s.name === 'greeter-1');
    assert.equal(greeter?.type, '_rollcall._tcp');
    assert.equal(greeter?.address, address);
    assert.equal(greeter?.port, 8080);
    for (const entry of ['txtvers=1', 'name=greeter', 'version=1.0.0', 'id=greeter-1', 's.team=core', 'n.protocol=http']) {
      assert.ok(greeter?.txt?.includes(entry), `TXT has ${entry}: ${JSON.stringify(greeter?.txt)}`);
    }
    const dotted = found.find((s) => s.name.startsWith('go-micro-srv-'));
    assert.ok(dotted && Buffer.byteLength(dotted.name) <= 63, 'a dotted 90-byte id becomes a valid label');
    assert.ok(dotted?.txt?.includes(`id=go.micro.srv.${'x'.repeat(80)}`), 'the TXT keeps the full id');
    assert.equal(dotted?.port, 8081);
  });

  it('a service published with avahi-publish in our TXT format is found by our browser (watch and getService)', async (t) => {
    const reader = await spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.reader.netns });
    t.after(() => reader.kill());
    const rec = new Recorder(reader.watch());
    t.after(() => rec.stop());
    await rec.watcher.synced;
    // The subtype is what a lookup of one service name asks for; avahi-publish takes it as an option.
    const publication = await avahi.publish(
      'office printer',
      '_rollcall._tcp',
      6310,
      ['txtvers=1', 'name=printer-svc', 'version=2.0.0', 'id=avahi-node-1', 'n.protocol=ipp'],
      { subtypes: ['_printer-svc._sub._rollcall._tcp'] },
    );
    t.after(() => publication.stop());
    await rec.until((r) => r.nodeIds('printer-svc').length === 1, 10_000, 'the avahi service in a watch of everything');
    const [service] = [...rec.state.values()].filter((s) => s.name === 'printer-svc');
    assert.equal(service?.version, '2.0.0');
    assert.equal(service?.nodes[0]?.id, 'avahi-node-1');
    assert.equal(service?.nodes[0]?.address, `${lan.hosts.theirs.address}:6310`);
    assert.deepEqual(service?.nodes[0]?.metadata, { protocol: 'ipp' });
    // A fresh registry (cold cache) finds it by name through the subtype.
    const cold = await spawnRegistry({ options: { kind: 'mdns' }, netns: lan.hosts.ours.netns });
    t.after(() => cold.kill());
    let versions: Awaited<ReturnType<typeof cold.getService>> = [];
    await eventually(
      async () => {
        versions = await cold.getService('printer-svc', { timeout: 2000 });
        return versions.length === 1;
      },
      10_000,
      'getService of the avahi service',
      200,
    );
    assert.equal(versions[0]?.nodes[0]?.address, `${lan.hosts.theirs.address}:6310`);
  });
});
