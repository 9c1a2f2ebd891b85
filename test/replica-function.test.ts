// The function's side of replicas, through the proxy's HTTP client and the
// real backend: the digest and count META records at validation, listings
// of a kept generation, and incremental transfers (POST /v1/changes) built
// from the change log a transaction leaves, forwards and after a rollback
// backwards, two commits behind one step at a time, with `gone` for
// everything else.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { GenerationDigest } from '../common/contract/digest.js';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { Transactions } from '../lambda/store/transaction.js';
import { buildConfig } from '../proxy/config.js';
import { CallError } from '../proxy/http/call-error.js';
import { Replicas } from '../proxy/replica/replicas.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { startTestBackend, testReader } from './helpers/backend.js';

function digestOf(entries: Iterable<readonly [string, string]>): string {
  const d = new GenerationDigest();
  for (const [k, v] of entries) d.add(k, v);
  return d.hex();
}

describe('replica transfers from the function', () => {
  let backend: Backend;
  let reader: HttpUpstream;
  const v1 = new Map<string, string>();
  for (let i = 0; i < 3000; i++) v1.set(`user${String(i).padStart(5, '0')}@example.org`, `mbox${i} é`);
  const v2 = new Map(v1);

  before(async () => {
    backend = await startTestBackend({ t: [...v1] }, { collectEveryMs: 0 });
    reader = testReader(backend.url);
  });
  after(async () => {
    await reader.close();
    await backend.close();
  });

  async function allChanges(from: number): Promise<{ to: number; changes: Map<string, string | undefined>; digest?: string; count?: number }> {
    const changes = new Map<string, string | undefined>();
    let to: number | undefined;
    let afterKey: string | undefined;
    let last;
    do {
      last = await reader.changes('t', from, to, afterKey, 5000);
      to = last.generation;
      for (const c of last.changes) changes.set(c.key, c.value);
      afterKey = last.next;
    } while (afterKey !== undefined);
    return { to, changes, ...(last.digest !== undefined && { digest: last.digest }), ...(last.count !== undefined && { count: last.count }) };
  }

  it('records the count and the order-independent digest of a generation, and answers them with the generation', async () => {
    const res = await reader.lookup('t', [], 5000);
    assert.equal(res.count, 3000);
    assert.equal(res.digest, digestOf(v1));
    // Another order, the same digest; one value changed, another.
    assert.equal(digestOf([...v1].reverse()), res.digest);
    const page = await reader.list('entries', 't', undefined, 5000);
    assert.equal(page.digest, res.digest);
    assert.equal(page.count, 3000);
  });

  it('transfers a 1 % change as exactly that change, and the digest adds up', async () => {
    let i = 0;
    for (const k of [...v2.keys()].slice(0, 20)) v2.set(k, `changed ${i++}`);
    for (const k of [...v2.keys()].slice(100, 105)) v2.delete(k);
    for (let j = 0; j < 5; j++) v2.set(`new${j}@example.org`, `fresh${j}`);
    await replaceTable(backend.store, 't', [...v2]);
    const { to, changes, digest, count } = await allChanges(1);
    assert.equal(to, 2);
    assert.equal(changes.size, 30);
    assert.equal(count, v2.size);
    assert.equal(digest, digestOf(v2));
    const d = GenerationDigest.from(digestOf(v1), v1.size);
    for (const [k, v] of changes) {
      const old = v1.get(k);
      if (old !== undefined) d.remove(k, old);
      if (v !== undefined) d.add(k, v);
    }
    assert.equal(d.hex(), digest);
    assert.equal(d.count, count);
  });

  it('lists the kept previous generation by number, and reads the change log backwards after a rollback', async () => {
    const pinned = await reader.list('entries', 't', undefined, 5000, undefined, 1);
    assert.equal(pinned.generation, 1);
    assert.equal(pinned.digest, digestOf(v1));
    assert.equal(pinned.epoch, undefined, 'only the active generation has an epoch');
    await new Transactions(backend.store).undo('t');
    const { to, changes, digest } = await allChanges(2);
    assert.equal(to, 1);
    assert.equal(digest, digestOf(v1));
    assert.equal(changes.size, 30);
    for (const [k, v] of changes) assert.equal(v, v1.get(k));
  });

  it('answers gone for a generation it keeps no log from, and for a listing of a generation it no longer keeps', async () => {
    const gone = async (p: Promise<unknown>): Promise<void> => {
      await assert.rejects(p, (err: unknown) => err instanceof CallError && err.status === 410 && err.functionCode === 'gone');
    };
    await gone(reader.changes('t', 77, undefined, undefined, 5000));
    await replaceTable(backend.store, 't', [['only', 'one']]);
    // 1 -> 3 replaced every entry but one: a change as big as the table is not logged.
    await gone(reader.changes('t', 1, undefined, undefined, 5000));
    await gone(reader.list('entries', 't', undefined, 5000, undefined, 2));
  });

  it('brings a replica two commits behind up to date by two incremental steps, each verified, not by a whole transfer', async () => {
    const w1 = new Map<string, string>();
    for (let i = 0; i < 2000; i++) w1.set(`user${i}@example.org`, `g1-${i}`);
    const w2 = new Map(w1);
    for (let i = 0; i < 20; i++) w2.set(`user${i * 7}@example.org`, `g2-${i}`);
    w2.delete('user5@example.org');
    const w3 = new Map(w2);
    for (let i = 0; i < 20; i++) w3.set(`user${i * 11}@example.org`, `g3-${i}`);
    w3.set('new@example.org', 'g3-new');
    await replaceTable(backend.store, 'u', [...w1]);
    const first = (await reader.lookup('u', [], 5000)).generation;

    const lines: Array<{ msg: string; kind?: string; generation?: number }> = [];
    const config = buildConfig({ upstream: { url: backend.url }, replica: { dir: mkdtempSync(join(tmpdir(), 'cloudtable-replica-')), tables: ['u'] }, cache: { max_staleness_s: 3600 } });
    const replicas = new Replicas(config, reader, (tables) => reader.generations(tables, 5000).then((r) => r.tables), pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) }));
    const deadline = Date.now() + 20_000;
    while (replicas.store.record('u')?.generation !== first) {
      assert.ok(Date.now() < deadline, 'replica of the first generation');
      await new Promise((r) => setTimeout(r, 20));
    }
    await replaceTable(backend.store, 'u', [...w2]);
    await replaceTable(backend.store, 'u', [...w3]);
    // The function answers the first step: the previous generation's log, with that generation's count and digest.
    const step = await reader.changes('u', first, undefined, undefined, 5000);
    assert.equal(step.generation, first + 1);
    assert.equal(step.count, w2.size);
    assert.equal(step.digest, digestOf(w2));
    assert.equal(step.changes.length, 21);

    await replicas.update('u');
    const rec = replicas.store.record('u')!;
    assert.equal(rec.generation, first + 2);
    assert.equal(rec.lastSync.kind, 'incremental');
    assert.equal(rec.digest, digestOf(w3));
    const synced = lines.filter((l) => /^replica synced/.test(l.msg)).map((l) => [l.kind, l.generation]);
    assert.deepEqual(synced, [
      ['full', first],
      ['incremental', first + 1],
      ['incremental', first + 2],
    ]);
    const a = replicas.answer('u', 'string', 'new@example.org');
    assert.deepEqual(a?.kind === 'found' && a.value, 'g3-new');
    await replicas.close();
  });
});
