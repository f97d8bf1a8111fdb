/**
 * Builds the Go test peers offline: GOPATH mode against Debian's Go packages, one binary per peer
 * in .cache/peers/<name>/ keyed by a hash of its sources and the Go version, and one Go build cache
 * shared by every peer, so the memberlist package that two peers import compiles once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh } from './peer-process.js';

/** Where Debian's Go packages live. */
export const GOPATH = '/usr/share/gocode';

const peersCache = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), '.cache', 'peers');
const builds = new Map<string, Promise<string>>();

export interface GoProgram {
  /** The peer's name: its cache folder and the binary's prefix. */
  name: string;
  /** The main package's source file. */
  source: string;
  /**
   * Files laid into packages through `go build -overlay`: the path a file takes inside GOPATH,
   * mapped to the file in this repository. Part of the build's hash.
   */
  overlay?: Record<string, string>;
}

/** Path of the built binary; builds it when a source file or Go changed. */
export function buildGoProgram(program: GoProgram): Promise<string> {
  let building = builds.get(program.name);
  if (!building) {
    building = build(program);
    builds.set(program.name, building);
    building.catch(() => builds.delete(program.name));
  }
  return building;
}

async function build({ name, source, overlay = {} }: GoProgram): Promise<string> {
  const goVersion = (await sh('go', ['version'])).trim();
  const hash = createHash('sha256').update(readFileSync(source)).update(goVersion);
  const targets = Object.keys(overlay).sort();
  for (const target of targets) hash.update(target).update(readFileSync(overlay[target] as string));
  const cacheDir = join(peersCache, name);
  const bin = join(cacheDir, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cacheDir, { recursive: true });
  // Private names, then a rename: concurrent test files may build the same peer at once.
  const tmp = `${bin}.${process.pid}.tmp`;
  const overlayJson = `${tmp}.overlay.json`;
  const args = ['build', '-o', tmp];
  if (targets.length > 0) {
    writeFileSync(overlayJson, JSON.stringify({ Replace: overlay }));
    args.push('-overlay', overlayJson);
  }
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH,
    GOFLAGS: '',
    GOCACHE: join(peersCache, 'gocache'),
    CGO_ENABLED: '0',
  };
  try {
    await sh('go', [...args, source], env);
    renameSync(tmp, bin);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(overlayJson, { force: true });
  }
  return bin;
}
