// Replicas through a cloud outage, with real processes on one host's replica
// store: `cloudtable smtpd` table processes and a `cloudtable sockmap`
// queried by the real `postmap`, the backend stopped for the whole of the
// outage. Every lookup of a replicated table — found, not-found, domain
// globs, netaddr prefixes, mailaddr forms, regex, fetch rotation, auth — is
// answered as before, also by a process started after the backend stopped;
// a process with a short replica.expire_s answers error once it passes, and
// correctly again once the backend is back.

import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import { TEST_ENV, startTestBackend } from './helpers/backend.js';
import { runCli } from './helpers/cli.js';
import { Postmap, findPostmap, POSTMAP_MISSING } from './helpers/postfix.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';
import { startSockmap, type RunningSockmap } from './helpers/sockmap.js';

const POSTMAP = findPostmap();
// Cost 4: the test is about where the hash comes from, not about bcrypt's cost on a busy machine.
const HUNTER2 = bcrypt.hashSync('hunter2', 4);

const MAIL: Array<[string, string]> = [
  ['root', 'g1alice'],
  ['postmaster', 'root'],
  ['example.org', 'g1'],
  ['*.example.net', 'g1'],
  ['10.0.0.0/8', 'g1'],
  ['192.0.2.1', 'g1'],
  ['@example.com', 'g1'],
  ['alice', `alice:${HUNTER2}`],
];
for (let i = 0; i < 500; i++) MAIL.push([`user${i}`, `g1user${i}`]);
const REGEXES: Array<[string, string]> = [['^user[0-9]+@example\\.org$', 'g1regex']];
const SOURCES: Array<[string, string]> = [
  ['192.0.2.10', ''],
  ['192.0.2.11', ''],
  ['192.0.2.12', ''],
];

if (!POSTMAP && process.env.CI) {
  it('finds postmap in CI', () => assert.fail(POSTMAP_MISSING));
}

describe('replicas through an outage', () => {
  let backend: Backend;
  let port: number;
  const dataDir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-backend-'));
  const replicaDir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
  let config: string;
  let shortExpiry: string;
  const peers: SmtpdPeer[] = [];
  let sockmap: RunningSockmap | undefined;
  let store: ReplicaStore;

  const toml = (expire: number): string =>
    `[upstream]\nurl = "http://127.0.0.1:${port}"\ndeadline_ms = 5000\n[cache]\nmax_staleness_s = 0.5\n` +
    `[breaker]\nprobe_interval_ms = 100\n[replica]\ndir = "${replicaDir}"\ntables = "auto"\nexpire_s = ${expire}\n` +
    `[smtpd]\nservices = ["alias", "domain", "netaddr", "mailaddr", "credentials", "auth", "source"]\n` +
    `[sockmap.maps.virtual]\ntable = "mail"\nservice = "alias"\n[sockmap.maps.rx]\ntable = "regexes"\nservice = "regex"\n[log]\nlevel = "info"\n` +
    `[metrics]\nlisten = "127.0.0.1:0"\n`;

  async function peer(path: string, table: string): Promise<SmtpdPeer> {
    const p = new SmtpdPeer([path]);
    peers.push(p);
    await p.handshake(table);
    return p;
  }

  /** Stops the backend: no more connections, the requests already in its handlers done, then the store. */
  async function stopBackend(): Promise<void> {
    await backend.http.close();
    await new Promise((r) => setTimeout(r, 500));
    await backend.close();
  }

  async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs: ${peers.map((p) => p.stderr.slice(-1500)).join('\n')} ${sockmap?.stderr.slice(-1500) ?? ''}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(async () => {
    backend = await startTestBackend({}, { dataDir, collectEveryMs: 0 });
    port = backend.port;
    const { replaceTable } = await import('../lambda/store/replace.js');
    await replaceTable(backend.store, 'mail', MAIL, 'alias');
    await replaceTable(backend.store, 'regexes', REGEXES, 'regex');
    await replaceTable(backend.store, 'sources', SOURCES, 'source');
    config = writeConfig(toml(3600));
    shortExpiry = writeConfig(toml(3));
    store = new ReplicaStore(replicaDir);
  });

  after(async () => {
    for (const p of peers) p.child.kill('SIGKILL');
    await sockmap?.stop('SIGKILL');
    await store?.close();
    if (backend) await stopBackend();
  });

  let a: SmtpdPeer;
  let sources: SmtpdPeer;
  let expiring: SmtpdPeer;

  it('transfers every table used into the host replica store, verified, while answering through the function', async () => {
    a = await peer(config, 'mail');
    sources = await peer(config, 'sources');
    expiring = await peer(shortExpiry, 'mail');
    sockmap = await startSockmap(['--config', config, '--listen', 'inet:127.0.0.1:0']);
    // The first lookups find no replica yet: the cache path answers them, and the tables are transferred.
    assert.equal(await a.ask('mail', 'lookup', 'alias', 'root'), 'found|g1alice');
    assert.equal(await expiring.ask('mail', 'lookup', 'alias', 'root'), 'found|g1alice');
    assert.match(await sources.ask('sources', 'fetch', 'source'), /^found\|192\.0\.2\.1[012]$/);
    if (POSTMAP) assert.equal((await new Postmap(POSTMAP).query('user7@example.org', sockmap.listeners[0]!, 'rx')).stdout, 'g1regex\n');
    await until('three replicas', () => ['mail', 'regexes', 'sources'].every((t) => store.pointer(t)?.generation === 1));
    assert.equal(store.record('mail')?.count, MAIL.length);
    assert.equal(store.record('mail')?.lastSync.kind, 'full');
    const logs = [...a.logs, ...expiring.logs].filter((l) => l.msg === 'replica synced');
    assert.ok(logs.length >= 1, 'one of the processes logged the transfer');
    // What `cloudtable status` shows of a running proxy's replicas.
    const metrics = await a.metricsUrl();
    const st = await runCli(['status', '--admin', backend.url, '--upstream', backend.url, '--metrics', metrics], TEST_ENV);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`mail: .*replicated: generation 1, ${MAIL.length} entries, [0-9.]+ MiB on disk, confirmed \\d+ s ago, digest verified, last sync full, ${MAIL.length} entries in [0-9.]+ s, \\d+ bytes`));
  });

  it('answers every kind of lookup from the replica with the backend stopped, also in processes started during the outage', async () => {
    await stopBackend();
    const late = await peer(config, 'mail');
    for (const p of [a, late]) {
      assert.equal(await p.ask('mail', 'lookup', 'alias', 'root'), 'found|g1alice');
      assert.equal(await p.ask('mail', 'lookup', 'alias', 'user321'), 'found|g1user321');
      assert.equal(await p.ask('mail', 'lookup', 'alias', 'nobody'), 'not-found');
      assert.equal(await p.ask('mail', 'check', 'domain', 'mx.example.net'), 'found');
      assert.equal(await p.ask('mail', 'check', 'domain', 'example.org'), 'found');
      assert.equal(await p.ask('mail', 'check', 'domain', 'example.com'), 'not-found');
      assert.equal(await p.ask('mail', 'check', 'netaddr', '10.20.30.40'), 'found');
      assert.equal(await p.ask('mail', 'check', 'netaddr', '192.0.2.1'), 'found');
      assert.equal(await p.ask('mail', 'check', 'netaddr', '172.16.0.1'), 'not-found');
      assert.equal(await p.ask('mail', 'check', 'mailaddr', 'bob+tag@example.com'), 'found');
      assert.equal(await p.ask('mail', 'check', 'mailaddr', 'bob@example.net'), 'not-found');
      assert.equal(await p.ask('mail', 'check', 'auth', 'alice:hunter2'), 'found');
      assert.equal(await p.ask('mail', 'check', 'auth', 'alice:hunter3'), 'not-found');
      assert.equal(await p.ask('mail', 'check', 'auth', 'mallory:hunter2'), 'not-found');
    }
    // fetch rotation goes on in key order.
    const fetched = [];
    for (let i = 0; i < 3; i++) fetched.push(await sources.ask('sources', 'fetch', 'source'));
    assert.deepEqual(new Set(fetched), new Set(SOURCES.map(([k]) => `found|${k}`)));
    if (POSTMAP) {
      const postmap = new Postmap(POSTMAP);
      const via = sockmap!.listeners[0]!;
      assert.deepEqual(await postmap.query('postmaster', via, 'virtual'), { code: 0, stdout: 'root\n', stderr: '' });
      assert.equal((await postmap.query('nobody', via, 'virtual')).code, 1);
      assert.equal((await postmap.query('user12@example.org', via, 'rx')).stdout, 'g1regex\n');
    }
  });

  it('stops serving a replica unconfirmed for replica.expire_s (error, never stale forever), and serves it again once the function is back', async () => {
    await until('expiry', async () => (await expiring.ask('mail', 'lookup', 'alias', 'root')).startsWith('error'), 15_000);
    // The processes with the default expiry still answer.
    assert.equal(await a.ask('mail', 'lookup', 'alias', 'root'), 'found|g1alice');
    assert.ok(expiring.logs.some((l) => l.msg?.startsWith('replica expired')));
    backend = await startTestBackend({}, { dataDir, port, collectEveryMs: 0 });
    await until('confirmation', async () => (await expiring.ask('mail', 'lookup', 'alias', 'root')) === 'found|g1alice', 15_000);
  });
});
