// The configuration schema: the README's reference table is the schema's,
// every key refuses a value of the wrong kind naming the key, unknown keys
// are refused at every level, and flags go through the same checks as the
// file (in-process, and through the real `cloudtable` command line).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError, defaultConfig, loadConfig } from '../proxy/config.js';
import { referenceRows } from '../proxy/config/define.js';
import { withReference } from '../proxy/config/reference.js';
import { SCHEMA } from '../proxy/config/schema.js';
import { ROOT, runCli } from './helpers/cli.js';

/** A file tree holding `value` at the dotted path. */
function treeWith(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  const tree: Record<string, unknown> = {};
  let at = tree;
  for (const p of parts.slice(0, -1)) at = (at[p] = {}) as Record<string, unknown>;
  at[parts.at(-1)!] = value;
  return tree;
}

const isConfigError = (pattern: RegExp) => (err: unknown) => err instanceof ConfigError && pattern.test(err.message);

describe('configuration schema', () => {
  it('is what the README documents (run `npm run docs:config` after changing the schema)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, withReference(readme));
  });

  it('documents each key once, with a type and a line of doc', () => {
    const rows = referenceRows(SCHEMA);
    assert.equal(new Set(rows.map((r) => r.key)).size, rows.length);
    for (const r of rows) assert.ok(r.type !== '' && r.doc !== '', r.key);
    assert.ok(rows.length >= 40);
  });

  it('refuses a value of the wrong kind for every key, naming it', () => {
    const fixed = referenceRows(SCHEMA).filter((r) => !r.key.includes('NAME') && !r.key.includes('[]'));
    for (const { key } of fixed) {
      assert.throws(() => buildConfig(treeWith(key, { nested: true })), isConfigError(new RegExp(key.replaceAll('.', '\\.'))), key);
    }
  });

  it('refuses unknown sections and keys, in named tables and lists too', () => {
    assert.throws(() => buildConfig({ upstrem: {} }), isConfigError(/unknown section \[upstrem\]/));
    assert.throws(() => buildConfig({ upstream: { deadline: 5 } }), isConfigError(/\[upstream\]: unknown key deadline \(known: url/));
    assert.throws(() => buildConfig({ tables: { aliases: { stale: 1 } } }), isConfigError(/\[tables\.aliases\]: unknown key stale/));
    assert.throws(() => buildConfig({ sockmap: { listen: [{ address: 'unix:/x', user: 'a' }] } }), isConfigError(/\[sockmap\.listen\[0\]\]: unknown key user/));
    assert.throws(() => buildConfig({ cache: 5 }), isConfigError(/\[cache\] must be a table/));
  });

  it('fills defaults, converting units, and derives admin.region from upstream.region', () => {
    const c = defaultConfig();
    assert.equal(c.cache.ttlMs, 300_000);
    assert.equal(c.sockmap.listen[0]!.mode, 0o660);
    assert.equal(c.admin.region, 'us-east-1');
    assert.equal(buildConfig({ upstream: { region: 'eu-west-1' } }).admin.region, 'eu-west-1');
    assert.equal(buildConfig({ upstream: { region: 'eu-west-1' }, admin: { region: 'us-west-2' } }).admin.region, 'us-west-2');
    assert.equal(buildConfig({ cache: { ttl_s: 1.5 } }).cache.ttlMs, 1500);
    assert.throws(() => buildConfig({ cache: { max_staleness_s: 0.05 } }), isConfigError(/max_staleness_s must be a number of seconds from 0.1/));
  });

  it('checks flags with the kind of the key they override, naming the flag', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ '--upstream': 'foo' }, /^--upstream: foo is not a URL$/],
      [{ '--upstream': 'http://127.0.0.1:8787/v1' }, /^--upstream must be an origin/],
      [{ '--admin': 'ftp://h' }, /^--admin must be http or https$/],
      [{ '--metrics': 'x:y' }, /^--metrics: /],
      [{ '--log-level': 'loud' }, /^--log-level must be one of/],
      [{ '--table': 'a/b' }, /^--table: "a\/b" is not a table name/],
      [{ '--listen': [{ address: 'tcp:1' }] }, /^--listen\.address: tcp:1: a listen address is/],
    ];
    for (const [flags, message] of bad) assert.throws(() => loadConfig(undefined, flags), isConfigError(message), JSON.stringify(flags));
    const c = loadConfig(undefined, { '--upstream': 'https://h.example:8443/', '--metrics': '9464', '--listen': [{ address: 'unix:/run/x.sock', mode: '0600' }] });
    assert.equal(c.upstream.url, 'https://h.example:8443');
    assert.deepEqual(c.metrics.listen, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(c.sockmap.listen, [{ address: 'unix:/run/x.sock', dialect: 'postfix', mode: 0o600 }]);
  });

  it('refuses a bad flag on the command line with one line and exit 78, no stack trace', async () => {
    for (const args of [
      ['smtpd', '--upstream', 'foo'],
      ['smtpd', '--upstream', 'http://127.0.0.1:8787/path'],
      ['show', 'aliases', '--admin', 'http://127.0.0.1:8787/admin'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^cloudtable: --(upstream|admin)[: ]/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('lives apart from what it configures: config.ts and config/ import nothing from sockmap/ or metrics/', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) visit(join(file, '..', `${m[1]}.ts`));
    };
    visit('proxy/config.ts');
    assert.deepEqual([...seen].filter((f) => /proxy\/(sockmap|metrics)\//.test(f)), []);
  });
});
