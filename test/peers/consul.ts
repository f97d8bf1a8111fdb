/**
 * Real Consul agents for tests: installing Consul (once, cached), the HTTP client the tests read
 * agents with, and a dev agent (optionally with ACLs or HTTPS only); the multi-server cluster is in
 * consul-cluster.ts, the process and port plumbing both share in consul-agents.ts. Every agent
 * runs on ports picked for it alone, lives in its own temporary directory (config, data, TLS
 * material, `agent.log`) and is killed by PID only.
 *
 * Measured with Consul 1.8.7 on one machine (raft_multiplier 1 for clusters), useful for timeouts:
 * - dev agent spawn -> leader known and its node in the catalog: 90-180 ms (median 110 ms),
 *   the same with ACLs or TLS; a same-ports restart costs the same; stop() ~0.5 s (graceful);
 * - 3-server cluster spawn -> leader agreed by all three: 1.1-1.9 s (median 1.6 s);
 * - SIGKILL of the cluster leader -> new leader agreed by the survivors: 2.1-3.7 s (median 3.0 s).
 * @module
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { live, type Proc, pickPorts, StartFailed, spawnAgent, terminate, waitUntil } from './consul-agents.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const installer = path.join(repoRoot, 'scripts/peers/consul.sh');

/** A peer this machine cannot provide; outside CI a test turns it into a loud skip. */
export class PeerUnavailableError extends Error {
  override readonly name = 'PeerUnavailableError';
  constructor(
    readonly peer: string,
    reason: string,
  ) {
    super(`${peer} is not available on this machine: ${reason}`);
  }
}

const inCi = (): boolean => process.env.CI === 'true';

let consulPath: Promise<string> | undefined;

/** Path of a Consul binary, installing it into `.cache/peers` on first use (once per process). */
export function ensureConsul(): Promise<string> {
  consulPath ??= new Promise<string>((resolve, reject) => {
    execFile('bash', [installer], { timeout: 15 * 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const bin = stdout.trim().split('\n').at(-1)?.trim() ?? '';
      if (!err && bin && existsSync(bin)) return resolve(bin);
      const how = err ? `exit ${err.code ?? err.signal ?? err.message}` : 'no binary path printed';
      const reason = `${installer} failed (${how}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
      reject(inCi() ? new Error(`CI=true requires a real Consul agent, but ${reason}`) : new PeerUnavailableError('consul', reason));
    });
  });
  return consulPath;
}

/**
 * Runs `fn` (which starts peers) and returns its result, or skips the test loudly when the peer
 * is unavailable outside CI. Under `CI=true` an unavailable peer fails the test instead.
 */
export async function requirePeer<T>(t: TestContext, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof PeerUnavailableError) || inCi()) throw err;
    const msg = `SKIPPED (no real ${err.peer}): ${err.message}`;
    process.stderr.write(`\n*** ${msg}\n`);
    t.skip(msg);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface ConsulResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  json<T = unknown>(): T;
}

export interface ConsulRequestOptions {
  method?: string;
  /** Sent as JSON unless already a string. */
  body?: unknown;
  token?: string;
  /** PEM of the CA for https addresses. */
  ca?: string;
  timeoutMs?: number;
}

/** One request on a fresh connection, so no keep-alive socket outlives a test. */
export function consulRequest(url: string, opts: ConsulRequestOptions = {}): Promise<ConsulResponse> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = {};
  if (opts.token) headers['X-Consul-Token'] = opts.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method: opts.method ?? 'GET', headers, agent: false, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

// Dev agent

export interface DevAgentPorts {
  /** The HTTP API port, or the HTTPS port in TLS mode. */
  readonly http: number;
  readonly dns: number;
  readonly serfLan: number;
  readonly serfWan: number;
  readonly server: number;
}

export interface DevAgentOptions {
  /** Loopback (127.0.0.0/8) address for every listener. @default '127.0.0.1' */
  bind?: string;
  /** Extra HCL given with `-hcl` (applied after the generated config). */
  hcl?: string;
  /** Deny-by-default ACLs with a master token (generated unless given). */
  acl?: boolean | { masterToken?: string };
  /** HTTPS only (plain HTTP disabled), with a CA and server certificate made by `consul tls`. */
  tls?: boolean;
  /** Reuse exact ports (e.g. those of an agent that was killed); picked freshly otherwise. */
  ports?: DevAgentPorts;
  nodeName?: string;
  /** @default 30000 */
  startTimeoutMs?: number;
}

export interface DevAgent {
  /** `http://127.0.0.1:PORT`, or `https://...` in TLS mode. */
  readonly address: string;
  readonly httpPort: number;
  readonly ports: DevAgentPorts;
  /** PID of the running agent process (changes on restart). */
  readonly pid: number;
  readonly nodeName: string;
  /** Temporary directory holding config, data, TLS files and the log; removed by stop(). */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Milliseconds from spawn until the agent had a leader and its node was in the catalog. */
  readonly startupMs: number;
  /** ACL mode only. */
  readonly masterToken: string | undefined;
  /** TLS mode only: path and PEM of the CA that signed the agent's certificate. */
  readonly caFile: string | undefined;
  readonly ca: string | undefined;
  /** Request against this agent (address, CA and, unless given, no token). */
  request(pathAndQuery: string, opts?: ConsulRequestOptions): Promise<ConsulResponse>;
  /**
   * ACL mode: a token allowed to register, pass checks of and deregister `service`, and to read
   * every node and service (health and catalog queries need both).
   */
  createServiceToken(service: string): Promise<string>;
  /** SIGKILL the agent; the directory stays for the log and for restart(). */
  kill(): Promise<void>;
  /** A new, empty agent on the same ports (the state-loss case); kills the current one first. */
  restart(opts?: { graceful?: boolean }): Promise<void>;
  /** Terminates the agent (SIGTERM, SIGKILL after 3 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function makeTls(bin: string, dir: string, ip: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(bin, args, { cwd: dir, timeout: 30_000 }, (err, _o, stderr) =>
        err ? reject(new Error(`consul ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(),
      ),
    );
  return run(['tls', 'ca', 'create'])
    .then(() => run(['tls', 'cert', 'create', '-server', '-dc', 'dc1', '-additional-ipaddress', ip]))
    .then(() => ({
      caFile: path.join(dir, 'consul-agent-ca.pem'),
      certFile: path.join(dir, 'dc1-server-consul-0.pem'),
      keyFile: path.join(dir, 'dc1-server-consul-0-key.pem'),
    }));
}

export async function startDevAgent(opts: DevAgentOptions = {}): Promise<DevAgent> {
  const bin = await ensureConsul();
  const bind = opts.bind ?? '127.0.0.1';
  // Tests talk to peers over loopback only.
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bind)) throw new Error(`bind must be a 127.0.0.0/8 address, got ${bind}`);
  const nodeName = opts.nodeName ?? `dev-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'rollcall-consul-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'agent.log');
  const masterToken = opts.acl ? (typeof opts.acl === 'object' && opts.acl.masterToken) || randomUUID() : undefined;
  let proc: Proc | undefined;
  const entry = { procs: () => (proc ? [proc] : []), dirs: [dir] };
  live.add(entry);

  try {
    const tls = opts.tls ? await makeTls(bin, dir, bind) : undefined;
    const ca = tls ? readFileSync(tls.caFile, 'utf8') : undefined;
    let ports = opts.ports;
    let startupMs = 0;

    const configFor = (p: DevAgentPorts) => ({
      node_name: nodeName,
      bind_addr: bind,
      advertise_addr: bind,
      client_addr: bind,
      data_dir: dataDir,
      disable_update_check: true,
      ports: {
        ...(tls ? { http: -1, https: p.http } : { http: p.http }),
        dns: p.dns,
        grpc: -1,
        serf_lan: p.serfLan,
        serf_wan: p.serfWan,
        server: p.server,
      },
      ...(tls ? { ca_file: tls.caFile, cert_file: tls.certFile, key_file: tls.keyFile } : {}),
      ...(masterToken
        ? {
            acl: {
              enabled: true,
              default_policy: 'deny',
              down_policy: 'extend-cache',
              tokens: { master: masterToken, agent: masterToken },
            },
          }
        : {}),
    });

    const address = (p: DevAgentPorts) => `${tls ? 'https' : 'http'}://${bind}:${p.http}`;

    const launch = async (): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const p: DevAgentPorts =
          ports ??
          (await pickPorts([bind], 5).then(([http, dns, serfLan, serfWan, server]) => ({
            http: http as number,
            dns: dns as number,
            serfLan: serfLan as number,
            serfWan: serfWan as number,
            server: server as number,
          })));
        rmSync(dataDir, { recursive: true, force: true });
        const cfg = path.join(dir, 'agent.json');
        writeFileSync(cfg, JSON.stringify(configFor(p), null, 2));
        const args = ['agent', '-dev', '-config-file', cfg, ...(opts.hcl ? ['-hcl', opts.hcl] : [])];
        const t0 = performance.now();
        proc = spawnAgent(bin, args, logFile, dir);
        const base = address(p);
        const get = (q: string) => consulRequest(base + q, { ca, token: masterToken, timeoutMs: 2_000 });
        try {
          await waitUntil(
            `a leader on ${base}`,
            [proc],
            [logFile],
            async () => {
              const leader = await get('/v1/status/leader');
              if (leader.status !== 200 || !leader.json<string>()) return false;
              if (masterToken && (await get('/v1/acl/token/self')).status !== 200) return false;
              const node = await get(`/v1/catalog/node/${encodeURIComponent(nodeName)}`);
              return node.status === 200 && node.json() !== null;
            },
            opts.startTimeoutMs ?? 30_000,
          );
          startupMs = performance.now() - t0;
          ports = p;
          return;
        } catch (err) {
          await terminate(proc, 0);
          if (err instanceof StartFailed && err.portClash && !opts.ports && attempt < 4) continue;
          throw err;
        }
      }
    };

    await launch();
    let stopped = false;
    const current = (): Proc => proc as Proc;
    const fixedPorts = (): DevAgentPorts => ports as DevAgentPorts;

    const agent: DevAgent = {
      get address() {
        return address(fixedPorts());
      },
      get httpPort() {
        return fixedPorts().http;
      },
      get ports() {
        return fixedPorts();
      },
      get pid() {
        return current().pid;
      },
      get startupMs() {
        return startupMs;
      },
      nodeName,
      dir,
      dataDir,
      logFile,
      masterToken,
      caFile: tls?.caFile,
      ca,
      request: (q, o = {}) => consulRequest(address(fixedPorts()) + q, { ca, ...o }),
      async createServiceToken(service) {
        if (!masterToken) throw new Error('createServiceToken needs an agent started with { acl: true }');
        const rules = [
          `service ${JSON.stringify(service)} { policy = "write" }`,
          'service_prefix "" { policy = "read" }',
          'node_prefix "" { policy = "read" }',
        ].join('\n');
        const policy = await agent.request('/v1/acl/policy', {
          method: 'PUT',
          token: masterToken,
          body: { Name: `svc-${service}-${randomUUID().slice(0, 8)}`.replace(/[^A-Za-z0-9_-]/g, '_'), Rules: rules },
        });
        if (policy.status !== 200) throw new Error(`PUT /v1/acl/policy: ${policy.status} ${policy.text}`);
        const token = await agent.request('/v1/acl/token', {
          method: 'PUT',
          token: masterToken,
          body: { Description: `service ${service}`, Policies: [{ ID: policy.json<{ ID: string }>().ID }] },
        });
        if (token.status !== 200) throw new Error(`PUT /v1/acl/token: ${token.status} ${token.text}`);
        return token.json<{ SecretID: string }>().SecretID;
      },
      async kill() {
        await terminate(current(), 0);
      },
      async restart(o = {}) {
        if (stopped) throw new Error('agent was stopped');
        await terminate(current(), o.graceful ? 3_000 : 0);
        await launch();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await terminate(current(), 3_000);
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      },
      [Symbol.asyncDispose]: () => agent.stop(),
    };
    return agent;
  } catch (err) {
    if (proc) await terminate(proc, 0);
    rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
    throw err;
  }
}
