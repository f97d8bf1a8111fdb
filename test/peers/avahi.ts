/** avahi-daemon inside a LAN host: run in the foreground in the host's namespace, never on the machine. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LanHost } from './lan.js';
import { alive, killPid, stopChild, waitForLine } from './process.js';

export interface AvahiOptions {
  /** avahi's host name (becomes `<hostName>.local`). */
  hostName: string;
  /** Extra lines appended to the [server] section. */
  serverConfig?: string[];
  /** How long to wait for "Server startup complete"; default 15 s. */
  timeoutMs?: number;
}

export interface AvahiService {
  /** `+` (found) or `=` (resolved) lines of avahi-browse -p. */
  event: '+' | '=' | '-';
  iface: string;
  protocol: string;
  name: string;
  type: string;
  domain: string;
  hostName?: string;
  address?: string;
  port?: number;
  txt?: string[];
}

export interface AvahiPublication {
  /** The name avahi established (it may differ after a conflict). */
  name: string;
  pid: number;
  stop(): Promise<void>;
}

export interface AvahiDaemon {
  pid: number;
  host: LanHost;
  hostName: string;
  /** Everything the daemon logged so far. */
  log(): string;
  /** `avahi-browse -rpt TYPE`, resolved entries only by default. */
  browse(type: string, opts?: { timeoutMs?: number; all?: boolean }): Promise<AvahiService[]>;
  /**
   * `avahi-publish -s NAME TYPE PORT TXT...`, kept running until stopped; resolves once established.
   * The process starts before the call returns, so a test can start something else while avahi probes.
   */
  publish(
    name: string,
    type: string,
    port: number,
    txt?: readonly string[],
    opts?: { subtypes?: readonly string[] },
  ): Promise<AvahiPublication>;
  stop(): Promise<void>;
}

function unescapeAvahi(s: string): string {
  return s.replace(/\\(\d{3}|.)/g, (_m, g: string) => (g.length === 3 ? String.fromCharCode(Number(g)) : g));
}

/** Parse `avahi-browse -p` output. */
export function parseAvahiBrowse(out: string): AvahiService[] {
  const res: AvahiService[] = [];
  for (const line of out.split('\n')) {
    if (!/^[+=-];/.test(line)) continue;
    // Fields are ';'-separated; avahi escapes ';' inside names as \059.
    const f = line.split(';');
    const svc: AvahiService = {
      event: f[0] as '+' | '=' | '-',
      iface: f[1] ?? '',
      protocol: f[2] ?? '',
      name: unescapeAvahi(f[3] ?? ''),
      type: f[4] ?? '',
      domain: f[5] ?? '',
    };
    if (svc.event === '=') {
      svc.hostName = f[6];
      svc.address = f[7];
      svc.port = Number(f[8]);
      const txt = f.slice(9).join(';');
      svc.txt = [...txt.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unescapeAvahi(m[1] ?? ''));
    }
    res.push(svc);
  }
  return res;
}

function dbusConfig(): string {
  // A bus of its own with no service directories: nothing can be
  // bus-activated, so a client call can never start a second daemon.
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`;
}

let avahiCount = 0;

/**
 * Run avahi-daemon in the foreground inside `host`, in a mount namespace of
 * its own with a tmpfs on /run and a private dbus-daemon, so it neither sees
 * nor disturbs any bus or daemon of the machine. browse/publish enter that
 * same mount namespace (nsenter) to reach its D-Bus.
 */
export async function startAvahi(host: LanHost, opts: AvahiOptions): Promise<AvahiDaemon> {
  if (!/^[A-Za-z0-9-]{1,63}$/.test(opts.hostName)) throw new Error(`startAvahi: bad host name ${opts.hostName}`);
  avahiCount += 1;
  const dir = join(host.tmpdir, `avahi-${avahiCount}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'dbus.conf'), dbusConfig());
  writeFileSync(
    join(dir, 'avahi.conf'),
    [
      '[server]',
      `host-name=${opts.hostName}`,
      'domain-name=local',
      'use-ipv4=yes',
      'use-ipv6=no',
      `allow-interfaces=${host.ifname}`,
      'enable-dbus=yes',
      'ratelimit-interval-usec=1000000',
      'ratelimit-burst=1000',
      ...(opts.serverConfig ?? []),
      '[wide-area]',
      'enable-wide-area=no',
      '[publish]',
      'publish-hinfo=no',
      'publish-workstation=no',
      '[reflector]',
      'enable-reflector=no',
      '',
    ].join('\n'),
  );
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mkdir -p /run/dbus /run/avahi-daemon',
    `dbus-daemon --config-file="$D/dbus.conf" --nofork --nopidfile --nosyslog &`,
    'echo $! > "$D/dbus.pid"',
    'i=0',
    'while [ ! -S /run/dbus/system_bus_socket ]; do',
    '  i=$((i+1)); if [ $i -gt 250 ]; then echo "dbus-daemon did not start" >&2; exit 1; fi',
    '  sleep 0.02',
    'done',
    // exec keeps one PID from `ip netns exec` down to avahi-daemon.
    'exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$D/avahi.conf"',
  ].join('\n');
  const child = host.exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...process.env, D: dir },
  });
  let logText = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    logText += d;
  });
  const readDbusPid = (): number | undefined => {
    try {
      const n = Number(readFileSync(join(dir, 'dbus.pid'), 'utf8').trim());
      return n > 1 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const pid = child.pid;
  if (!pid) throw new Error('startAvahi: spawn failed');
  const publications = new Set<ChildProcess>();

  const stop = async (): Promise<void> => {
    await Promise.all([...publications].map((p) => stopChild(p, 1000)));
    await stopChild(child, 3000);
    const dbusPid = readDbusPid();
    if (dbusPid && alive(dbusPid)) {
      killPid(dbusPid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(dbusPid); i++) await new Promise((r) => setTimeout(r, 20));
      killPid(dbusPid, 'SIGKILL');
    }
  };

  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    logText += d;
  });

  try {
    await waitForLine(child.stderr, /Server startup complete/, opts.timeoutMs ?? 15_000, `avahi-daemon in ${host.netns}`);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${logText}`);
  }

  const inside = (cmd: string, args: string[]): [string, string[]] => ['nsenter', ['-t', String(pid), '-m', '--', cmd, ...args]];

  return {
    pid,
    host,
    hostName: opts.hostName,
    log: () => logText,
    async browse(type: string, bopts: { timeoutMs?: number; all?: boolean } = {}): Promise<AvahiService[]> {
      const [cmd, args] = inside('avahi-browse', ['-rpt', type]);
      const r = await host.run(cmd, args, { timeoutMs: bopts.timeoutMs ?? 10_000 });
      if (r.code !== 0) throw new Error(`avahi-browse ${type}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
      const all = parseAvahiBrowse(r.stdout);
      return bopts.all ? all : all.filter((s) => s.event === '=');
    },
    async publish(
      name: string,
      type: string,
      port: number,
      txt: readonly string[] = [],
      popts: { subtypes?: readonly string[] } = {},
    ): Promise<AvahiPublication> {
      const subtypes = (popts.subtypes ?? []).map((s) => `--subtype=${s}`);
      const [cmd, args] = inside('avahi-publish', ['-s', ...subtypes, name, type, String(port), ...txt]);
      const p = host.exec(cmd, args);
      publications.add(p);
      p.once('exit', () => publications.delete(p));
      let line: string;
      try {
        // avahi-publish reports on stderr; stdout is watched too in case that changes.
        line = await waitForLine([p.stdout, p.stderr], /Established under name/, 10_000, `avahi-publish ${name}`);
      } catch (err) {
        await stopChild(p, 500);
        throw err;
      }
      const established = /Established under name '(.*)'/.exec(line)?.[1] ?? name;
      return { name: established, pid: p.pid ?? 0, stop: () => stopChild(p, 1000) };
    },
    stop,
  };
}
