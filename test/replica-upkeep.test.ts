// Upkeep of replicas on one host, against the real backend and a real LMDB
// store: a replica of a table that grew over replica.max_entries is deleted
// (logged), not left on disk; a served replica whose bytes change on disk
// after its switch is caught by the periodic verification (replica.verify_s),
// logged, no longer served, and transferred again; the replicas due for a
// generation check are confirmed together, in one request.

import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { buildConfig } from '../proxy/config.js';
import { Replicas } from '../proxy/replica/replicas.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { GENERATIONS_PATH, LOOKUP_PATH, type GenerationsRequest, type LookupRequest } from '../common/contract/lookup.js';
import { recordRequests, startTestBackend, testReader } from './helpers/backend.js';
import { testConfig, testResolver } from './helpers/resolver.js';

const rows = (n: number, tag: string): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`k${i}`, `${tag}-value-${String(i).padStart(6, '0')}`]);

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('replica upkeep', () => {
  let backend: Backend;
  let reader: HttpUpstream;

  before(async () => {
    backend = await startTestBackend({ grows: rows(50, 'g1'), kept: rows(3000, 'g1') }, { collectEveryMs: 0 });
    reader = testReader(backend.url);
  });
  after(async () => {
    await reader?.close();
    await backend?.close();
  });

  function open(dir: string, lines: Array<{ msg: string }>, replica: Record<string, unknown>): Replicas {
    const config = buildConfig({ upstream: { url: backend.url }, replica: { dir, ...replica }, cache: { max_staleness_s: 0.2 } });
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
    return new Replicas(config, reader, (tables) => reader.generations(tables, 5000).then((r) => r.tables), log);
  }

  it('deletes the replica of a table that grew over replica.max_entries, with a log line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
    const lines: Array<{ msg: string }> = [];
    const replicas = open(dir, lines, { tables: 'auto', max_entries: 100 });
    await until('the replica serves', () => replicas.answer('grows', 'string', 'k1')?.kind === 'found');
    const slot = replicas.store.record('grows')!.slot;
    assert.equal(replicas.store.size('grows', slot), 50);

    await replaceTable(backend.store, 'grows', rows(150, 'g2'));
    await until('the replica is deleted', () => replicas.store.record('grows') === undefined);
    assert.equal(replicas.answer('grows', 'string', 'k1'), undefined, 'served through the cache');
    assert.equal(replicas.store.pointer('grows'), undefined);
    assert.deepEqual([replicas.store.size('grows', 0), replicas.store.size('grows', 1)], [0, 0], 'no entry left on disk');
    assert.ok(!replicas.store.replicatedTables().includes('grows'));
    assert.ok(lines.some((l) => /replica deleted: the table grew over replica.max_entries/.test(l.msg)), 'logged');
    await replicas.close();
  });

  it('catches bytes changed on disk after the switch with the periodic verification, and transfers the table again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
    const lines: Array<{ msg: string }> = [];
    const replicas = open(dir, lines, { tables: ['kept'], verify_s: 0.3 });
    try {
      // Another key than the one changed below: a value this process has read is kept in its memory (replica/hot-entries.ts).
      await until('the replica serves', () => replicas.answer('kept', 'string', 'k1')?.kind === 'found');
      await until('verified again once', () => lines.some((l) => l.msg === 'replica verified again'));

      // Served and verified: now a byte of one value changes in the file.
      const path = join(dir, 'replicas.mdb');
      const at = readFileSync(path).indexOf('g1-value-001234');
      assert.ok(at > 0);
      const fd = openSync(path, 'r+');
      writeSync(fd, 'X', at + 14);
      closeSync(fd);
      const corrupted = replicas.answer('kept', 'string', 'k1234');
      assert.deepEqual(corrupted?.kind === 'found' && corrupted.value, 'g1-value-00123X', 'the change is visible to readers (LMDB reads the file mapped)');

      await until('the periodic verification catches it', () => lines.some((l) => /replica failed verification/.test(l.msg)));
      await until('transferred again', () => {
        const a = replicas.answer('kept', 'string', 'k1234');
        return a?.kind === 'found' && a.value === 'g1-value-001234';
      });
      const errorLine = lines.find((l) => /replica failed verification/.test(l.msg)) as { reason?: string } | undefined;
      assert.match(errorLine?.reason ?? '', /digest/);
    } finally {
      await replicas.close();
    }
    // Another process of the host sees the good copy.
    const store = new ReplicaStore(dir);
    assert.equal(store.get('kept', store.record('kept')!.slot, 'k1234'), 'g1-value-001234');
    await store.close();
  });

  it('confirms the replicas due for a check together, once for the host: one generations request for every table, none from the cache path of a table its replica serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
    const tables = ['kept', 'grows', 'third'];
    await replaceTable(backend.store, 'third', rows(10, 'g1'));
    const log = recordRequests(backend);
    // Two processes of one host, wired as the runtime wires them: the resolver asks for the
    // replicas (its answers count for the breaker and the generation rule) and answers from them first.
    const config = testConfig(backend.url, { replica: { dir, tables, max_entries: 1_000_000 }, cache: { max_staleness_s: 0.4 } });
    const processes = [0, 1].map(() => {
      const { resolver } = testResolver(config);
      const replicas = new Replicas(config, reader, (t) => resolver.generationsOf(t), pino({ level: 'silent' }));
      resolver.answerLocally(replicas);
      return { resolver, replicas };
    });
    try {
      // Asked before the replicas serve: answered through the cache path, so its table is in use there.
      for (const p of processes) assert.equal((await p.resolver.lookup('kept', 'string', 'k1')).kind, 'found');
      await until('every replica serves', () => processes.every((p) => tables.every((t) => p.replicas.answer(t, 'string', 'k1')?.kind === 'found')));
      const synced = log.paths.length;
      await new Promise((r) => setTimeout(r, 1500)); // checks fall due every 200 ms
      const checks = log.paths.map((path, i) => ({ path, body: log.bodies[i]! }));
      const asked = (c: { path: string; body: string }): string[] => (JSON.parse(c.body) as GenerationsRequest).tables.toSorted();
      const single = checks.slice(synced).filter((c) => c.path === LOOKUP_PATH && (JSON.parse(c.body) as LookupRequest).queries.length === 0);
      assert.equal(single.length, 0, 'no table checked on its own once the replicas serve');
      const first = checks.find((c) => c.path === GENERATIONS_PATH);
      assert.deepEqual(first && asked(first), tables.toSorted(), 'the first check asked the three tables in one request');
      const later = checks.slice(synced).filter((c) => c.path === GENERATIONS_PATH).map(asked);
      // Due every 200 ms: at most one request per process and interval (two that tick together may both ask).
      assert.ok(later.length >= 3 && later.length <= 2 * (1500 / 200 + 1), `${later.length} checks in 1.5 s from the host's two processes, due every 200 ms`);
      for (const t of later) assert.deepEqual(t, tables.toSorted(), 'every check asks every table due, none comes from the cache path');
    } finally {
      for (const p of processes) {
        await p.replicas.close();
        await p.resolver.close();
      }
    }
  });
});
