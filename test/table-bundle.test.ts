// The table process as installed: `table-cloudtable`, the one CommonJS file
// scripts/bundle-table-process.ts builds (what smtpd runs for each
// `table ... cloudtable:` line), not the sources the other smtpd tests run
// under tsx. Built afresh here beside the ES module build in dist/ (which
// `npm ci` made), it must answer the protocol against the real local
// backend, load nothing an idle process does not use, report its failures
// with their exit codes, and hand any other use to the command line.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { bundleTableProcess } from '../scripts/bundle-table-process.js';
import { modulesOfSmtpd } from '../bench/lib/footprint.js';
import { startTestBackend, TEST_ENV } from './helpers/backend.js';
import { HANDSHAKE, SmtpdPeer, request, writeConfig } from './helpers/smtpd-peer.js';

const BIN_DIR = fileURLToPath(new URL('../dist/proxy/bin/', import.meta.url));
/** Beside the installed one, so that `../cli.js` and node_modules resolve as they do for it. */
const BUNDLE = join(BIN_DIR, `table-cloudtable.test-${process.pid}.cjs`);

describe('table-cloudtable as installed (one CommonJS file)', () => {
  let backend: Backend;
  const replicaDir = mkdtempSync(join(tmpdir(), 'cloudtable-bundle-replicas-'));
  const configHome = mkdtempSync(join(tmpdir(), 'cloudtable-bundle-config-'));
  const env = { XDG_CONFIG_HOME: configHome, CLOUDTABLE_REPLICA_TABLES: '', CLOUDTABLE_REPLICA_DIR: replicaDir };

  before(async () => {
    assert.ok(existsSync(join(BIN_DIR, '../cli.js')), 'dist/ is built (npm run build; npm ci runs it)');
    await bundleTableProcess(BUNDLE);
    backend = await startTestBackend({ aliases: [['root', 'alice'], ['abuse', 'root, security@example.org']] });
  });
  after(async () => {
    rmSync(BUNDLE, { force: true });
    rmSync(replicaDir, { recursive: true, force: true });
    rmSync(configHome, { recursive: true, force: true });
    await backend?.close();
  });

  it('answers the handshake and lookups against the real backend, replicas on (auto)', async () => {
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n[smtpd]\nservices = ["alias"]\n`)], env, [process.execPath, BUNDLE]);
    try {
      peer.write(HANDSHAKE('aliases'));
      assert.deepEqual(await peer.lines(2), ['register|alias', 'register|ready']);
      peer.write(request('aliases', 'lookup', 'alias', '00000001', 'root'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000001|found|alice']);
      peer.write(request('aliases', 'lookup', 'alias', '00000002', 'nobody'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000002|not-found']);
      peer.write(request('aliases', 'lookup', 'alias', '00000003', 'abuse'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000003|found|root, security@example.org']);
    } finally {
      peer.kill();
    }
  });

  it('loads no replica store, logger, HTTP client, signer or command-line parser while idle', async () => {
    const config = writeConfig(`[upstream]\nurl = "http://127.0.0.1:9"\n[replica]\ndir = "${replicaDir}"\ntables = "auto"\n`);
    const modules = await modulesOfSmtpd([process.execPath, BUNDLE, config], { ...TEST_ENV, ...env });
    assert.ok(modules.some((m) => m.endsWith(`/table-cloudtable.test-${process.pid}.cjs`)), 'the count sees the bundle itself');
    assert.deepEqual(
      modules.filter((m) => /\/node_modules\/(lmdb|msgpackr|pino|sonic-boom|undici|@aws-sdk|@smithy|commander)\//.test(m) || /\/dist\/proxy\/(?!bin\/)/.test(m)),
      [],
    );
  });

  it('exits 78 with its cause for an unreadable configuration', () => {
    const r = spawnSync(process.execPath, [BUNDLE, join(replicaDir, 'missing.toml')], { encoding: 'utf8', input: '', timeout: 30_000, env: { ...process.env, ...TEST_ENV, ...env } });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /^cloudtable: cannot read configuration .*missing\.toml: ENOENT/);
  });

  it('hands any other use to the command line (the ES module build beside it)', () => {
    const r = spawnSync(process.execPath, [BUNDLE, '--help'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...TEST_ENV, ...env } });
    assert.equal(r.status, 0, r.stderr);
    // On stderr: stdout is smtpd's protocol, for help too.
    assert.match(r.stderr, /^Usage: cloudtable smtpd/);
    assert.equal(r.stdout, '');
  });
});
