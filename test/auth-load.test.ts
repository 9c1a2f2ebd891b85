// Auth tables that cannot be loaded wrong, as processes against the real
// backend: `cloudtable hash` makes a hash the proxy verifies, read from
// standard input (a terminal prompt when there is one), never from argv;
// `load --service auth` takes hashes (stored as a credentials table, what
// the proxy looks up to verify smtpd's auth checks) and refuses, with line numbers and
// without showing them, values no supported scheme recognises unless
// --allow-unhashed says so; a credentials load notes values that are no hash.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { verifyPassword } from '../proxy/auth/password-hash.js';
import { CLI, ROOT } from './helpers/cli.js';
import { LoadHarness } from './helpers/load.js';

describe('auth tables and cloudtable hash', () => {
  const h = new LoadHarness(30_000);
  before(() => h.start());
  after(() => h.stop());

  it('hash: bcrypt by default, sha512-crypt on request, from the first line of stdin; both verified as the proxy verifies', async () => {
    const b = await h.cli(['hash'], 'Secret pass:1\nignored\n');
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^\$2b\$10\$[./A-Za-z0-9]{53}\n$/);
    assert.deepEqual(await verifyPassword('Secret pass:1', b.stdout.trim()), { ok: true });
    assert.deepEqual(await verifyPassword('secret pass:1', b.stdout.trim()), { ok: false });
    const s = await h.cli(['hash', '--scheme', 'sha512', '--rounds', '6000'], 'pw\r\n');
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^\$6\$rounds=6000\$[./A-Za-z0-9]{16}\$[./A-Za-z0-9]{86}\n$/);
    assert.deepEqual(await verifyPassword('pw', s.stdout.trim()), { ok: true });
    const empty = await h.cli(['hash'], '\n');
    assert.equal(empty.code, 65);
    const long = await h.cli(['hash'], `${'x'.repeat(73)}\n`);
    assert.equal(long.code, 65);
    assert.match(long.stderr, /use --scheme sha512/);
  });

  it('hash on a terminal: asks twice with echo off (a pseudo-terminal from script(1))', async () => {
    const child = spawn('script', ['-qfec', CLI.join(' ') + ' hash', '/dev/null'], { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    let out = '';
    const seen = (re: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${String(re)} in ${JSON.stringify(out)}`)), 60_000);
        const check = (): void => {
          if (!re.test(out)) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve();
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await seen(/Password: /);
    child.stdin.write('Typed-Secret\r');
    await seen(/Again: /);
    child.stdin.write('Typed-Secret\r');
    await seen(/\$2b\$10\$[./A-Za-z0-9]{53}\r?\n/);
    const hash = /\$2b\$10\$[./A-Za-z0-9]{53}/.exec(out)?.[0];
    child.stdin.end();
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(hash, out);
    assert.ok(!out.includes('Typed-Secret'), `echoed: ${JSON.stringify(out)}`);
    assert.deepEqual(await verifyPassword('Typed-Secret', hash), { ok: true });
  });

  it('load --service auth: hashes loaded; plaintext and unsupported schemes refused with their lines, the values never shown', async () => {
    const hash = (await h.cli(['hash'], 'alice-pw\n')).stdout.trim();
    const file = `alice ${hash}\nbob:bob:Plain-Text-Pw\ncarol $1$abc$0123456789abcdefghijkl\ndave dave:${hash}\n`;
    const r = await h.cli(['load', 'auth1', h.file('auth1', file), '--service', 'auth', ...h.urls()]);
    assert.equal(r.code, 65, r.stdout + r.stderr);
    assert.match(r.stdout, /2 errors:\n  line 2: "bob": not a password hash \(bcrypt or sha512-crypt: make one with `cloudtable hash`\); --allow-unhashed loads it anyway\n  line 3: "carol": hash scheme \$1\$ is not one the proxy verifies/);
    assert.doesNotMatch(r.stdout + r.stderr, /Plain-Text-Pw/);
    const ok = await h.cli(['load', 'auth1', h.file('auth2', `alice ${hash}\ndave dave:${hash}\n`), '--service', 'auth', '--confirm-with', 'alice', ...h.urls()]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /service auth, stored as credentials\)[\s\S]*confirmed: alice → \$2b\$/);
    assert.equal((await h.admin.list({ table: 'auth1' })).service, 'credentials', 'stored as what the proxy looks up');
    const forced = await h.cli(['load', 'auth1', h.file('auth3', file), '--service', 'auth', '--allow-unhashed', ...h.urls()]);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  });

  it('load --service credentials: values that are no hash load, with a note naming their lines', async () => {
    const r = await h.cli(['load', 'creds1', h.file('creds1', 'relay1 user:Plain\nrelay2 user:$2b$10$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRSTU\n'), '--service', 'credentials', ...h.urls()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /note: 1 credentials value is not a password hash \(line 1\): right for the credentials smtpd sends to a relay host; a listener's auth table needs hashes/);
    assert.doesNotMatch(r.stderr, /Plain/);
  });
});
