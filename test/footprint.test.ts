// A table process stays lean (smtpd starts one per `table` line and sends
// no banner until each has finished its handshake): `cloudtable smtpd`, run
// as smtpd runs it (`table-cloudtable CONFIG`, replicas on by default, with
// and without a replica store on the host), loads none of the code it does
// not use while idle, and its handshake time and resident memory stay within
// generous budgets. The module list is the tight guard; the budgets are for
// tsx on a loaded machine (the figures of the compiled dist/, and their
// ratios to a bare Node process, are in BENCHMARKS.md: `npm run bench --
// footprint`).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { measureSmtpd, modulesOfSmtpd } from '../bench/lib/footprint.js';
import { fileURLToPath } from 'node:url';
import { ReplicaStore } from '../proxy/replica/store.js';
import { writeConfig } from './helpers/smtpd-peer.js';

/**
 * Modules an idle table process holds from source, tsx's own aside: 72
 * (145 before lmdb, pino and commander were deferred, 101 before pino
 * waited for a line an idle process does not log; the installed bin is
 * one CommonJS file of them, test/table-bundle.test.ts); a margin for
 * small modules, not for another package at start.
 */
const MAX_MODULES = 85;

/** Under tsx and a loaded test machine: far above the dist/ figures, far below what a lazy-loading regression costs. */
const BUDGET = { handshakeMs: 5000, rssMiB: 100 };

/** What smtpd runs for a `table` line (`proc:` or `cloudtable:`), from source. */
const TABLE_BIN = [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../proxy/bin/table-cloudtable.ts', import.meta.url))];

const NOT_WHILE_IDLE = [
  /\/lambda\//,
  // The names of the table formats (for the CLI's choices) are no loader code.
  /\/proxy\/(admin|load)\/(?!table-formats\.)/,
  /\/proxy\/metrics\/(endpoint|proxy-metrics)\./,
  /\/node_modules\/(dynalite|@aws-sdk|@smithy\/signature-v4|undici|prom-client|cli-progress|bcryptjs|unixcrypt|aws-cdk-lib)\//,
  // No lookup yet: nothing to answer from a replica, nor to transfer, whether the host has a store or not.
  /\/node_modules\/(lmdb|msgpackr)\//,
  // A healthy idle table process logs nothing at the default level, so its logger is never loaded.
  /\/node_modules\/(pino|sonic-boom|thread-stream)\//,
  // smtpd runs table-cloudtable with a configuration path: no command-line parser.
  /\/node_modules\/commander\//,
  /\/proxy\/replica\/(replicas|store|sync)\./,
];

describe('footprint of cloudtable smtpd', () => {
  // Replicas as by default (auto), in a directory of its own where no process has made a store yet.
  const replicaDir = mkdtempSync(join(tmpdir(), 'cloudtable-footprint-replicas-'));
  const argv = [...TABLE_BIN, writeConfig(`[upstream]\nurl = "http://127.0.0.1:9"\n[replica]\ndir = "${replicaDir}"\ntables = "auto"\n`)];
  // The same on a host whose store exists (other processes replicate tables there).
  const storeDir = mkdtempSync(join(tmpdir(), 'cloudtable-footprint-store-'));
  const withStore = [...TABLE_BIN, writeConfig(`[upstream]\nurl = "http://127.0.0.1:9"\n[replica]\ndir = "${storeDir}"\ntables = "auto"\n`)];
  before(async () => new ReplicaStore(storeDir).close());
  after(() => {
    rmSync(replicaDir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  for (const [name, args] of [
    ['no replica store on the host', argv],
    ['a replica store on the host', withStore],
  ] as const) {
    it(`loads only what an idle table process uses (${name})`, async () => {
      const modules = await modulesOfSmtpd(args);
      const unneeded = modules.filter((m) => NOT_WHILE_IDLE.some((r) => r.test(m)));
      assert.deepEqual(unneeded, []);
      const ours = modules.filter((m) => !/\/node_modules\/(tsx|esbuild|@esbuild|get-tsconfig|resolve-pkg-maps)\//.test(m));
      assert.ok(ours.length <= MAX_MODULES, `${ours.length} modules loaded while idle (at most ${MAX_MODULES})`);
      assert.ok(modules.some((m) => m.includes('/proxy/smtpd/server.')), 'the count sees the smtpd server itself');
    });
  }

  it('once it has called the function, holds undici\'s pool and request API, not the whole package (fetch, WebSocket, mocks, cache)', async () => {
    // A table named for replication: the store opens, and a transfer is tried at once (refused: nothing listens on port 9).
    const calling = [...TABLE_BIN, writeConfig(`[upstream]\nurl = "http://127.0.0.1:9"\n[replica]\ndir = "${storeDir}"\ntables = ["aliases"]\n`)];
    const modules = await modulesOfSmtpd(calling);
    const undici = modules.filter((m) => m.includes('/node_modules/undici/'));
    assert.ok(undici.some((m) => m.endsWith('/undici/lib/dispatcher/pool.js')), 'the pool was loaded: the process did call');
    assert.deepEqual(undici.filter((m) => /\/undici\/(index\.js|lib\/(web|mock|cache|interceptor)\/)/.test(m)), []);
  });

  it('without the command-line parser, fails as cloudtable smtpd does: an unreadable configuration is exit 78, with its cause', () => {
    const r = spawnSync(TABLE_BIN[0]!, [...TABLE_BIN.slice(1), join(replicaDir, 'missing.toml')], { encoding: 'utf8', input: '', timeout: 60_000 });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /^cloudtable: cannot read configuration .*missing\.toml: ENOENT/);
  });

  it('finishes its handshake and idles within budget', async () => {
    const f = await measureSmtpd(argv);
    assert.ok(f.handshakeMs < BUDGET.handshakeMs, `handshake ${Math.round(f.handshakeMs)} ms`);
    assert.ok(f.rssBytes / 2 ** 20 < BUDGET.rssMiB, `idle RSS ${(f.rssBytes / 2 ** 20).toFixed(1)} MiB`);
  });
});
