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

/** Every file a file loads at start (its static, non-type imports, transitively), with the packages named. */
function staticClosure(file: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (f: string): void => {
    if (files.has(f)) return;
    files.add(f);
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(relative(root, resolve(root, dirname(f), spec.replace(/\.js$/, '.ts'))));
      else if (!spec.startsWith('node:')) packages.add(spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'));
    }
  };
  visit(file);
  return { files, packages };
}

test('the CLI loads each command only when it runs', () => {
  const text = readFileSync(join(root, 'proxy/cli.ts'), 'utf8');
  // exit-codes and hash-schemes are small shared tables of the CLI itself, not commands.
  const eager = [...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'\.\/commands\/([^']+)'/gm)].map((m) => m[1]);
  assert.deepEqual(eager.filter((f) => f !== 'exit-codes.js' && f !== 'hash-schemes.js'), []);
});

test('a table process (cloudtable smtpd) loads no local backend, admin, loader, metrics, HTTP or signing code at start', () => {
  const { files, packages } = staticClosure('proxy/bin/table-cloudtable.ts');
  // The bin imports the CLI lazily; the smtpd command is what runs.
  for (const f of staticClosure('proxy/commands/smtpd.ts').files) files.add(f);
  for (const p of staticClosure('proxy/commands/smtpd.ts').packages) packages.add(p);
  const bad = [...files].filter((f) => /^(lambda|infra)\/|^proxy\/(admin|load|metrics\/(endpoint|proxy-metrics|figures))\b/.test(f));
  assert.deepEqual(bad, []);
  const heavy = ['dynalite', '@aws-sdk/client-dynamodb', '@aws-sdk/credential-provider-node', '@smithy/signature-v4', 'undici', 'prom-client', 'cli-progress', 'bcryptjs', 'unixcrypt', 'aws-cdk-lib'];
  assert.deepEqual(heavy.filter((p) => packages.has(p)), []);
});
