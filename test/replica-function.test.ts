// The function's side of replicas, through the proxy's HTTP client and the
// real backend: the digest and count META records at validation, listings
// of a kept generation, and incremental transfers (POST /v1/changes) built
// from the change log a transaction leaves, forwards and after a rollback
// backwards, with `gone` for everything else.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GenerationDigest } from '../common/contract/digest.js';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { Transactions } from '../lambda/store/transaction.js';
import { CallError } from '../proxy/http/call-error.js';
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
});
