/**
 * Compiles a TypeScript entry (a test peer such as test/peers/swim-node.ts) to one plain ES module,
 * so a benchmark runs it with `node` alone: the TypeScript loader's worker thread would add memory
 * and CPU that a deployed process does not pay. Packages stay imports, resolved from the
 * repository's node_modules, which is why the output lives under the repository's .cache.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function compileEntry(entry: string): Promise<string> {
  const outDir = join(root, '.cache', 'bench');
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, basename(entry).replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  return outfile;
}
