// The folders' import direction, checked on the sources: common/ is the
// library both sides share, so it imports nothing from proxy/, lambda/ or
// infra/; the proxy never imports the cloud function's code (the local
// backend's commands excepted, and only lazily); the function never imports
// the proxy.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Each relative import of a file, resolved to a path from the repository root. */
function imports(file: string): { target: string; lazy: boolean }[] {
  const text = readFileSync(join(root, file), 'utf8');
  const out: { target: string; lazy: boolean }[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const spec = m[1]!;
    out.push({ target: relative(root, resolve(root, dirname(file), spec)), lazy: m[0].startsWith('import') });
  }
  return out;
}

function top(path: string): string {
  return path.split('/')[0]!;
}

test('common/ imports nothing from proxy/, lambda/ or infra/', () => {
  const bad = sources('common').flatMap((f) => imports(f).filter((i) => top(i.target) !== 'common').map((i) => `${f} → ${i.target}`));
  assert.deepEqual(bad, []);
});

test('lambda/ never imports proxy/', () => {
  const bad = sources('lambda').flatMap((f) => imports(f).filter((i) => top(i.target) === 'proxy').map((i) => `${f} → ${i.target}`));
  assert.deepEqual(bad, []);
});

test('proxy/ reaches lambda/ only from the commands that run the local backend', () => {
  const bad = sources('proxy').flatMap((f) =>
    imports(f)
      .filter((i) => top(i.target) === 'lambda' && !f.startsWith('proxy/commands/'))
      .map((i) => `${f} → ${i.target}`),
  );
  assert.deepEqual(bad, []);
});
