// Real Postfix (`postmap -q`) against a real `cloudtable sockmap` process
// and the real local backend, over TCP and over a UNIX socket.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { blackHole, refusedPort, type FaultServer } from './helpers/fault-servers.js';
import { findPostmap, Postmap, POSTMAP_MISSING } from './helpers/postfix.js';
import { startSockmap, type RunningSockmap } from './helpers/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';

const POSTMAP = findPostmap();
/** The largest value Postfix takes: `OK ` plus it makes a 100,000-byte reply. */
const FITS = 'f'.repeat(100_000 - 3);
const TOO_LARGE = 't'.repeat(100_000);

if (!POSTMAP && process.env.CI === 'true') {
  it('finds postmap in CI', () => assert.fail(POSTMAP_MISSING));
}

describe('Postfix postmap -q against cloudtable sockmap', { skip: POSTMAP ? false : POSTMAP_MISSING }, () => {
  let backend: Backend;
  let server: RunningSockmap;
  let postmap: Postmap;
  let inet: string;
  let unix: string;

  before(async () => {
    backend = await startTestBackend({
      virtual: [
        ['alice@example.org', 'alice'],
        ['sales@example.org', 'alice, bob'],
        ['empty@example.org', ''],
        ['fits', FITS],
        ['toolarge', TOO_LARGE],
      ],
    });
    const sock = join(mkdtempSync(join(tmpdir(), 'cloudtable-sockmap-')), 'sockmap.sock');
    server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--listen', `unix:${sock}`, '--upstream', backend.url]);
    [inet, unix] = server.listeners as [string, string];
    postmap = new Postmap(POSTMAP!);
  });

  after(async () => {
    await server?.stop();
    await backend?.close();
  });

  for (const via of ['inet', 'unix'] as const) {
    it(`finds a key (${via})`, async () => {
      const r = await postmap.query('alice@example.org', via === 'inet' ? inet : unix, 'virtual');
      assert.deepEqual(r, { code: 0, stdout: 'alice\n', stderr: '' });
      const r2 = await postmap.query('sales@example.org', via === 'inet' ? inet : unix, 'virtual');
      assert.deepEqual(r2, { code: 0, stdout: 'alice, bob\n', stderr: '' });
    });

    it(`answers not found without an error (${via})`, async () => {
      const r = await postmap.query('nobody@example.org', via === 'inet' ? inet : unix, 'virtual');
      assert.deepEqual(r, { code: 1, stdout: '', stderr: '' });
    });
  }

  it('answers an empty stored value as not found, which Postfix takes without complaint', async () => {
    assert.deepEqual(await postmap.query('empty@example.org', inet, 'virtual'), { code: 1, stdout: '', stderr: '' });
  });

  it('passes a value whose reply is exactly 100,000 bytes', async () => {
    const r = await postmap.query('fits', unix, 'virtual');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${FITS}\n`);
  });

  it('answers a 100,000-byte value PERM, which Postfix reports as an error, not as a value or not found', async () => {
    const r = await postmap.query('toolarge', inet, 'virtual');
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /socketmap server permanent error: value too large/);
    assert.match(r.stderr, /query error/);
  });

  it('answers a map that cannot be a table PERM', async () => {
    const r = await postmap.query('alice@example.org', inet, 'no/such/map');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /socketmap server permanent error: unknown map no\/such\/map/);
  });

  it('answers a map whose table the function does not have as a temporary failure, not PERM (not found to Sendmail)', async () => {
    const r = await postmap.query('alice@example.org', inet, 'nosuchtable');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /socketmap server temporary error: .*unknown-table/);
  });

  describe('with the function down', () => {
    let refused: RunningSockmap;
    let silent: RunningSockmap;
    let hole: FaultServer;

    before(async () => {
      hole = await blackHole();
      [refused, silent] = await Promise.all([
        startSockmap(['--listen', 'inet:127.0.0.1:0', '--upstream', `http://127.0.0.1:${await refusedPort()}`]),
        startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', writeConfig(`[upstream]\nurl = "${hole.url}"\ndeadline_ms = 300\n`)]),
      ]);
    });

    after(async () => {
      await Promise.all([refused?.stop(), silent?.stop()]);
      await hole?.close();
    });

    it('Postfix reports a temporary error when the function refuses connections (TEMP)', async () => {
      const r = await postmap.query('alice@example.org', refused.listeners[0]!, 'virtual');
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /socketmap server temporary error: .*ECONNREFUSED/);
    });

    it('Postfix reports a temporary error when the function does not answer by the deadline (TIMEOUT)', async () => {
      const t0 = Date.now();
      const r = await postmap.query('alice@example.org', silent.listeners[0]!, 'virtual');
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /socketmap server timeout error: no answer within 300 ms/);
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    });
  });
});
