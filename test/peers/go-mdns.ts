/**
 * The Go mDNS peer (test/peers/go-mdns/main.go on hashicorp/mdns from Debian's
 * golang-github-hashicorp-mdns-dev): built once into .cache/peers/go-mdns/,
 * keyed by a hash of the source and the Go version, and run inside LAN hosts.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoProgram } from './go-build.js';
import { jsonLines, type LanHost, stopChild, waitForLine } from './lan.js';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'go-mdns', 'main.go');

/** Path of the built binary; builds it when the source or Go changed. */
export function buildGoMdns(): Promise<string> {
  return buildGoProgram({ name: 'go-mdns', source });
}

export interface GoMdnsEntry {
  name: string;
  host: string;
  addrV4?: string;
  addrV6?: string;
  port: number;
  info: string;
  infoFields: string[];
  /** ms after the query started that the entry was complete. */
  atMs: number;
}

export interface GoServeOptions {
  instance: string;
  service: string;
  /** Default `local.`; a bare `micro` is accepted. */
  domain?: string;
  port: number;
  /** Host name for SRV/A; default `<instance>.<domain>`. */
  hostName?: string;
  /** Addresses for A/AAAA; default the host's LAN address. */
  ips?: string[];
  txt?: string[];
  /** Bind the multicast listener to this interface (e.g. `eth0`). */
  iface?: string;
}

export interface GoServer {
  child: ChildProcess;
  /** Fully qualified instance name the server answers for. */
  instance: string;
  stop(): Promise<void>;
}

/** Start the Go mDNS server in `host`; resolves once its sockets are open. */
export async function serveGoMdns(host: LanHost, o: GoServeOptions): Promise<GoServer> {
  const bin = await buildGoMdns();
  const args = ['serve', '-instance', o.instance, '-service', o.service, '-port', String(o.port)];
  if (o.domain) args.push('-domain', o.domain);
  if (o.hostName) args.push('-host', o.hostName);
  if (o.iface) args.push('-iface', o.iface);
  for (const ip of o.ips ?? [host.address]) args.push('-ip', ip);
  for (const t of o.txt ?? []) args.push('-txt', t);
  const child = host.exec(bin, args);
  let errText = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    errText += d;
  });
  let line: string;
  try {
    line = await waitForLine(child.stdout, /"event":"ready"/, 10_000, 'go-mdns serve to be ready');
  } catch (err) {
    await stopChild(child, 500);
    throw new Error(`${(err as Error).message}\n${errText}`);
  }
  const ready = JSON.parse(line) as { instance: string };
  return { child, instance: ready.instance, stop: () => stopChild(child, 2000) };
}

export interface GoQueryOptions {
  service: string;
  /** Default `local`. */
  domain?: string;
  timeoutMs?: number;
  /** Set the QU bit (hashicorp/mdns leaves it off by default). */
  unicast?: boolean;
  iface?: string;
}

export interface GoQueryResult {
  entries: GoMdnsEntry[];
  code: number | null;
  stderr: string;
}

/** One hashicorp/mdns lookup from `host`; collects every entry printed before the timeout. */
export async function queryGoMdns(host: LanHost, o: GoQueryOptions): Promise<GoQueryResult> {
  const bin = await buildGoMdns();
  const timeoutMs = o.timeoutMs ?? 1000;
  const args = ['query', '-service', o.service, '-timeout', `${timeoutMs}ms`];
  if (o.domain) args.push('-domain', o.domain);
  if (o.unicast) args.push('-unicast');
  if (o.iface) args.push('-iface', o.iface);
  const child = host.exec(bin, args);
  const entries: GoMdnsEntry[] = [];
  jsonLines<GoMdnsEntry>(child.stdout, (e) => entries.push(e));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((ok) => {
    const timer = setTimeout(() => void stopChild(child, 500), timeoutMs + 10_000);
    child.once('close', (c) => {
      clearTimeout(timer);
      ok(c);
    });
  });
  return { entries, code, stderr };
}
