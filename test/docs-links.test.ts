/**
 * The README and docs/ ship in the package and link to each other relatively: every such link
 * must name a file that exists, and a `#fragment` a heading of that file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces as dashes. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

it('docs: every relative link in README.md and docs/*.md resolves, anchors included', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!target || /^[a-z]+:/i.test(target)) continue;
      const [file, fragment] = target.split('#') as [string, string | undefined];
      const path = file ? join(dirname(join(root, page)), file) : join(root, page);
      checked++;
      if (!existsSync(path)) {
        broken.push(`${page}: ${target} (no ${relative(root, path)})`);
        continue;
      }
      if (fragment && path.endsWith('.md')) {
        const headings = [...readFileSync(path, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1] ?? ''));
        if (!headings.includes(fragment)) broken.push(`${page}: ${target} (no heading #${fragment})`);
      }
    }
  }
  assert.ok(checked > 10, `links found: ${checked}`);
  assert.deepEqual(broken, []);
});
