// Replica transfers against the real backend over real HTTP, into a real
// LMDB store on disk: a 100,000-entry table transferred whole, then a 1 %
// change transferred as about 1 % of the entries.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { Transactions } from '../lambda/store/transaction.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import { fullSync, incrementalSync, verifyStored } from '../proxy/replica/sync.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { startTestBackend, testReader } from './helpers/backend.js';

const ENTRIES = 100_000;
const OPTS = { timeoutMs: 30_000, leaseMs: 30_000 };

describe('replica transfers of a 100,000-entry table', () => {
  let backend: Backend;
  let reader: HttpUpstream;
  let store: ReplicaStore;
  const v1: Array<[string, string]> = [];
  for (let i = 0; i < ENTRIES; i++) v1.push([`user${i}@example.org`, `g1-mailbox${i}@example.net`]);

  before(async () => {
    backend = await startTestBackend({}, { collectEveryMs: 0 });
    await load(v1);
    reader = testReader(backend.url);
    store = new ReplicaStore(mkdtempSync(join(tmpdir(), 'cloudtable-replica-')));
  });
  after(async () => {
    await store?.close();
    await reader?.close();
    await backend?.close();
  });

  let fullBytes = 0;

  /** Replaces the table through the admin transaction (change log included), in one send: a lease long enough for a busy machine. */
  async function load(entries: Iterable<readonly [string, string]>): Promise<void> {
    const txns = new Transactions(backend.store, { leaseMs: 600_000 });
    const all = [...entries];
    const b = await txns.begin('big', { service: 'alias', owner: 'test' });
    await txns.send('big', b.txn, () => ({ accepted: all, rejected: [] }));
    assert.ok((await txns.validate('big', b.txn, all.length)).ok);
    await txns.apply('big', b.txn);
    await txns.commit('big', b.txn);
  }

  it('transfers the table whole, streamed, verified by count and digest', async (t) => {
    const r = await fullSync(store, reader, 'big', OPTS);
    assert.equal(r.kind, 'full');
    assert.equal(r.entries, ENTRIES);
    assert.equal(store.pointer('big')?.generation, 1);
    const rec = store.record('big')!;
    assert.equal(rec.count, ENTRIES);
    assert.equal(store.get('big', rec.slot, 'user4242@example.org'), 'g1-mailbox4242@example.net');
    assert.equal(store.get('big', rec.slot, 'nobody@example.org'), undefined);
    assert.deepEqual(verifyStored(store, 'big', rec), { ok: true });
    fullBytes = r.bytes;
    t.diagnostic(`full: ${ENTRIES} entries in ${(r.ms / 1000).toFixed(2)} s, ${(r.bytes / 1e6).toFixed(1)} MB received, ${(store.tableBytes('big', rec.slot) / 1e6).toFixed(1)} MB of pages`);
  });

  it('transfers a 1 % change incrementally: about 1 % of the entries and of the bytes', async (t) => {
    const v2 = new Map(v1);
    for (let i = 0; i < 600; i++) v2.set(`user${i * 97}@example.org`, `g2-changed${i}@example.net`);
    for (let i = 0; i < 200; i++) v2.delete(`user${i * 89 + 1}@example.org`);
    for (let i = 0; i < 200; i++) v2.set(`new${i}@example.org`, `g2-new${i}`);
    await load(v2);
    const before = store.record('big')!;
    const r = await incrementalSync(store, reader, 'big', before, OPTS);
    assert.ok(r, 'the change log was kept');
    assert.equal(r.kind, 'incremental');
    assert.ok(r.entries >= 990 && r.entries <= 1000, `${r.entries} changes transferred`);
    assert.ok(r.bytes < fullBytes * 0.02, `${r.bytes} bytes for the change, ${fullBytes} for the whole table`);
    const rec = store.record('big')!;
    assert.equal(rec.generation, 2);
    assert.equal(rec.count, v2.size);
    assert.equal(rec.slot, before.slot, 'changed in place, in one transaction');
    assert.equal(store.get('big', rec.slot, 'user97@example.org'), 'g2-changed1@example.net');
    assert.equal(store.get('big', rec.slot, 'user1@example.org'), undefined);
    assert.equal(store.get('big', rec.slot, 'new7@example.org'), 'g2-new7');
    assert.deepEqual(verifyStored(store, 'big', rec), { ok: true });
    t.diagnostic(`incremental: ${r.entries} changes in ${(r.ms / 1000).toFixed(2)} s, ${r.bytes} bytes received (full: ${fullBytes})`);
  });
});
