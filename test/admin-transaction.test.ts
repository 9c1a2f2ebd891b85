// Every step and failure point of the admin transaction (the Pesto protocol)
// over real HTTP against the local backend on dynalite, with a clock the
// tests move to expire leases and grace periods.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { checkEntries } from '../lambda/admin/entries.js';
import { limitsFromEnv } from '../lambda/admin/limits.js';
import type { Backend } from '../lambda/local/backend.js';
import { SAMPLE_TABLES } from '../proxy/commands/sample-tables.js';
import type { AdminClient } from '../proxy/admin/client.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { TestClock, startTestBackend, testAdminClient, testReader } from './helpers/backend.js';

const LEASE = 30_000;
const GRACE = 20_000;
const KEEP = 60_000;

describe('admin transaction', () => {
  const clock = new TestClock();
  let backend: Backend;
  let admin: AdminClient;
  let reader: HttpUpstream;
  let n = 0;
  let table: string;

  before(async () => {
    backend = await startTestBackend({}, { clock: clock.now, limits: { leaseMs: LEASE, graceMs: GRACE, keepPreviousMs: KEEP, maxErrors: 3 }, collectEveryMs: 0 });
    admin = testAdminClient(backend.url);
    reader = testReader(backend.url);
  });
  after(async () => {
    await admin.close();
    await reader.close();
    await backend.close();
  });
  beforeEach(() => {
    table = `t${++n}`;
  });

  const entries = (prefix: string, count: number, from = 0) =>
    Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `${prefix}${from + i}`, line: i + 1 }));

  /** A whole load: begin, send, validate, apply, commit. */
  async function load(t: string, es: Array<{ key: string; value: string; line?: number }>, service = 'alias') {
    const b = await admin.begin({ table: t, service: service as 'alias', owner: 'test' });
    await admin.send(t, b.txn, es);
    const v = await admin.validate(t, b.txn, es.length);
    assert.ok(v.ok, JSON.stringify(v));
    const a = await admin.apply(t, b.txn);
    const c = await admin.commit(t, b.txn);
    return { b, v, a, c };
  }

  async function lookup(t: string, keys: string[]) {
    return reader.lookup(t, keys.map((key) => ({ service: 'alias', key })), 5000);
  }

  async function partitionSize(t: string, gen: number): Promise<number> {
    let count = 0;
    for await (const page of backend.store.generationPages(t, gen)) count += page.length;
    return count;
  }

  async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
    await assert.rejects(p, (err: Error & { functionCode?: string }) => {
      assert.equal(err.functionCode, code, err.message);
      if (message) assert.match(err.message, message);
      return true;
    });
  }

  it('hello gives the protocol version and the limits', async () => {
    const h = await admin.hello();
    assert.equal(h.protocol, 'cloudtable-admin');
    assert.equal(h.limits.leaseMs, LEASE);
    assert.equal(h.limits.batchSize, 1000);
    assert.ok(h.limits.maxEntries >= 100_000);
    assert.ok(h.limits.maxValueBytes > 100_000);
    assert.ok(Math.abs(h.time - clock.now()) < 5000);
  });

  it('loads a new table: begin, send in batches, validate, apply, commit', async () => {
    const b = await admin.begin({ table, service: 'alias', owner: 'alice@host' });
    assert.equal(b.base, undefined);
    const s1 = await admin.send(table, b.txn, entries('v', 600));
    const s2 = await admin.send(table, b.txn, entries('v', 400, 600));
    assert.deepEqual([s1.sent, s2.sent, s2.errors], [600, 1000, 0]);
    // Nothing is visible before apply: the table does not exist yet for readers.
    await assert.rejects(lookup(table, ['k0']), /404|unknown-table/);
    const v = await admin.validate(table, b.txn, 1000);
    assert.deepEqual({ ok: v.ok, count: v.count, diff: v.diff }, { ok: true, count: 1000, diff: { added: 1000, removed: 0, changed: 0 } });
    const a = await admin.apply(table, b.txn);
    assert.equal(a.generation, b.shadow);
    assert.deepEqual(a.diff, { added: 1000, removed: 0, changed: 0 });
    const r = await lookup(table, ['k0', 'k999', 'nope']);
    assert.equal(r.generation, b.shadow);
    assert.deepEqual(r.results, [{ s: 'found', value: 'v0' }, { s: 'found', value: 'v999' }, { s: 'not-found' }]);
    await admin.commit(table, b.txn);
    const l = await admin.list({ table, limit: 10 });
    assert.equal(l.generation, b.shadow);
    assert.equal(l.count, 1000);
    assert.equal(l.service, 'alias');
    assert.equal(l.entries.length, 10);
    assert.equal(l.transaction, undefined);
    assert.ok(l.cursor);
  });

  it('replaces a table and reports what changed; readers see the old one until apply', async () => {
    const first = await load(table, entries('old', 100));
    const listed = await admin.list({ table, limit: 1 });
    const b = await admin.begin({ table, owner: 'test', epoch: listed.epoch });
    assert.equal(b.base, first.b.shadow);
    assert.equal(b.service, 'alias', 'the service is kept when not given');
    // k0..k49 unchanged, k50..k99 changed, k100..k119 added; k-none removed: 100 → 120 entries
    const next = [...entries('old', 50), ...entries('new', 50, 50), ...entries('new', 20, 100)];
    await admin.send(table, b.txn, next);
    const v = await admin.validate(table, b.txn, next.length);
    assert.deepEqual(v.diff, { added: 20, removed: 0, changed: 50 });
    assert.deepEqual((await lookup(table, ['k60'])).results, [{ s: 'found', value: 'old60' }]);
    const a = await admin.apply(table, b.txn);
    assert.equal(a.previous, first.b.shadow);
    assert.deepEqual((await lookup(table, ['k60'])).results, [{ s: 'found', value: 'new60' }]);
    const c = await admin.commit(table, b.txn);
    assert.equal(c.previous, first.b.shadow, 'the replaced generation is kept for undo');
    assert.ok(c.epoch > a.epoch && a.epoch > listed.epoch);
  });

  it('refuses invalid entries with line numbers and the first N errors; apply is refused; rollback leaves the table as it was', async () => {
    await load(table, entries('v', 10));
    const before = await lookup(table, ['k1']);
    const b = await admin.begin({ table, owner: 'test' });
    const bad = [
      { key: 'ok1', value: 'fine', line: 1 },
      { key: 'cr', value: 'bad\rvalue', line: 2 },
      { key: 'empty', value: '', line: 3 },
      { key: 'ok1', value: 'again', line: 4 },
      { key: 'x'.repeat(1025), value: 'long key', line: 5 },
      { key: 'nul', value: 'a\0b', line: 6 },
    ];
    const s = await admin.send(table, b.txn, bad);
    assert.deepEqual([s.sent, s.errors], [1, 5]);
    const v = await admin.validate(table, b.txn, bad.length);
    assert.equal(v.ok, false);
    assert.equal(v.errorCount, 5);
    assert.deepEqual(
      v.errors.map((e) => [e.line, e.message]),
      [
        [2, 'value contains CR, LF or NUL'],
        [3, 'empty value'],
        [4, 'key already on line 1'],
      ],
      'only the first maxErrors (3) are kept, in order',
    );
    await rejects(admin.apply(table, b.txn), 'bad-state', /validation failed/);
    const r = await admin.rollback(table, b.txn);
    assert.equal(r.expired, false);
    assert.deepEqual(await lookup(table, ['k1']), before);
    assert.equal((await admin.list({ table })).transaction, undefined);
  });

  it("checks values with smtpd's rules for the table's service", async () => {
    const b = await admin.begin({ table, service: 'userinfo', owner: 'test' });
    const s = await admin.send(table, b.txn, [
      { key: 'alice', value: '1000:1000:/home/alice', line: 1 },
      { key: 'bob', value: 'x:1001:/home/bob', line: 2 },
      { key: 'carol', value: '1002', line: 3 },
    ]);
    assert.deepEqual([s.sent, s.errors], [1, 2]);
    const v = await admin.validate(table, b.txn, 3);
    assert.deepEqual(
      v.errors.map((e) => [e.line, e.key, e.message]),
      [
        [2, 'bob', 'invalid uid'],
        [3, 'carol', 'userinfo must be uid:gid:directory'],
      ],
    );
    await admin.rollback(table, b.txn);
  });

  it("reads the admin function's limits from its environment, refusing nonsense at start", () => {
    assert.deepEqual(limitsFromEnv({}), {});
    assert.deepEqual(limitsFromEnv({ CLOUDTABLE_LEASE_S: '60', CLOUDTABLE_GRACE_S: '45', CLOUDTABLE_KEEP_PREVIOUS_S: '0', CLOUDTABLE_MAX_ENTRIES: '5000' }), {
      leaseMs: 60_000,
      graceMs: 45_000,
      keepPreviousMs: 0,
      maxEntries: 5000,
    });
    assert.throws(() => limitsFromEnv({ CLOUDTABLE_LEASE_S: '1' }), /CLOUDTABLE_LEASE_S must be an integer from 5 to 3600, not "1"/);
    assert.throws(() => limitsFromEnv({ CLOUDTABLE_GRACE_S: 'soon' }), /CLOUDTABLE_GRACE_S/);
    assert.throws(() => limitsFromEnv({ CLOUDTABLE_GRACE_S: '60', CLOUDTABLE_KEEP_PREVIOUS_S: '30' }), /at least CLOUDTABLE_GRACE_S/);
    assert.throws(() => limitsFromEnv({ CLOUDTABLE_KEEP_PREVIOUS_S: '10' }), /at least CLOUDTABLE_GRACE_S/, 'against the default grace (30 s) too');
  });

  it('the sample tables of npm start pass the same checks', () => {
    for (const t of SAMPLE_TABLES) {
      const checked = checkEntries(t.service, t.entries.map(([key, value]) => ({ key, value })));
      assert.deepEqual(checked.rejected, [], t.name);
    }
  });

  it('a second writer gets a clear error while the first holds the table, and can begin once it is done', async () => {
    await load(table, entries('v', 5));
    const first = await admin.begin({ table, owner: 'alice@mx1 (pid 1)' });
    await rejects(admin.begin({ table, owner: 'bob@mx2' }), 'busy', /being replaced by another transaction \(alice@mx1 \(pid 1\)/);
    await admin.send(table, first.txn, entries('w', 5));
    await admin.validate(table, first.txn, 5);
    await admin.apply(table, first.txn);
    await rejects(admin.begin({ table, owner: 'bob@mx2' }), 'busy');
    await admin.commit(table, first.txn);
    const second = await admin.begin({ table, owner: 'bob@mx2' });
    await admin.rollback(table, second.txn);
  });

  it('begin fails if the table changed since it was listed', async () => {
    await load(table, entries('v', 5));
    const listed = await admin.list({ table });
    await load(table, entries('w', 5));
    await rejects(admin.begin({ table, owner: 'test', epoch: listed.epoch }), 'changed', /changed by someone else/);
  });

  it('a change to the table by anyone else during the transaction makes the next step fail', async () => {
    await load(table, entries('v', 5));
    const b = await admin.begin({ table, owner: 'test' });
    await admin.send(table, b.txn, entries('w', 5));
    // A writer that ignores the transaction (an older tool, a hand edit) bumps the epoch.
    await backend.store.updateMeta(table, { update: 'SET #epoch = #epoch + :one', values: { one: 1 } });
    await rejects(admin.validate(table, b.txn, 5), 'changed');
    await rejects(admin.apply(table, b.txn), 'changed');
  });

  it('a lease that runs out before apply discards the shadow; the client is told at its next step', async () => {
    const first = await load(table, entries('v', 5));
    const b = await admin.begin({ table, owner: 'test' });
    await admin.send(table, b.txn, entries('w', 5));
    clock.advance(LEASE / 2);
    await admin.renew(table, b.txn);
    clock.advance(LEASE / 2 + 1000);
    await admin.send(table, b.txn, entries('w', 5, 5)); // renewed: still alive
    clock.advance(LEASE + 1);
    await rejects(admin.send(table, b.txn, entries('w', 1, 10)), 'lease-expired', /shadow generation was discarded/);
    await rejects(admin.validate(table, b.txn, 11), 'no-transaction');
    assert.deepEqual((await lookup(table, ['k0'])).results, [{ s: 'found', value: 'v0' }]);
    assert.equal((await lookup(table, ['k0'])).generation, first.b.shadow);
    // Another writer can begin at once; the discarded shadow goes after the grace period.
    const next = await admin.begin({ table, owner: 'other' });
    assert.ok(next.shadow > b.shadow, 'generation numbers are never reused');
    await admin.rollback(table, next.txn);
    assert.equal(await partitionSize(table, b.shadow), 10);
    await admin.gc();
    assert.equal(await partitionSize(table, b.shadow), 10, 'kept during the grace period');
    clock.advance(GRACE + 1);
    const g = await admin.gc();
    assert.ok(g.generations >= 1);
    assert.equal(await partitionSize(table, b.shadow), 0);
  });

  it('a lease that runs out between apply and commit rolls back at once for readers, and commit is refused', async () => {
    const first = await load(table, entries('v', 5));
    const b = await admin.begin({ table, owner: 'test' });
    await admin.send(table, b.txn, entries('w', 5));
    await admin.validate(table, b.txn, 5);
    const a = await admin.apply(table, b.txn);
    const during = await lookup(table, ['k0']);
    assert.deepEqual([during.generation, during.epoch, during.results], [b.shadow, a.epoch, [{ s: 'found', value: 'w0' }]]);
    clock.advance(LEASE + 1);
    // Nobody has written anything yet: the reader alone already answers from the old generation, with a newer epoch.
    const rolled = await lookup(table, ['k0']);
    assert.deepEqual([rolled.generation, rolled.results], [first.b.shadow, [{ s: 'found', value: 'v0' }]]);
    assert.ok(rolled.epoch! > a.epoch);
    await rejects(admin.commit(table, b.txn), 'lease-expired', /rolled back to generation/);
    const settled = await admin.list({ table });
    assert.equal(settled.transaction, undefined);
    assert.deepEqual([settled.generation, settled.epoch], [first.b.shadow, rolled.epoch], 'the stored rollback is the one readers already saw');
  });

  it('expired transactions are settled by the collector even if their client never comes back', async () => {
    const first = await load(table, entries('v', 5));
    const b = await admin.begin({ table, owner: 'crashed loader' });
    await admin.send(table, b.txn, entries('w', 5));
    await admin.validate(table, b.txn, 5);
    await admin.apply(table, b.txn);
    clock.advance(LEASE + 1);
    const g = await admin.gc();
    assert.ok(g.settled >= 1);
    const l = await admin.list({ table });
    assert.deepEqual([l.generation, l.transaction], [first.b.shadow, undefined]);
    clock.advance(GRACE + 1);
    await admin.gc();
    assert.equal(await partitionSize(table, b.shadow), 0);
  });

  it('rollback after apply swaps back, then discards the shadow after the grace period', async () => {
    const first = await load(table, entries('v', 5));
    const b = await admin.begin({ table, owner: 'test' });
    await admin.send(table, b.txn, entries('w', 5));
    await admin.validate(table, b.txn, 5);
    const a = await admin.apply(table, b.txn);
    const r = await admin.rollback(table, b.txn);
    assert.equal(r.generation, first.b.shadow);
    assert.ok(r.epoch > a.epoch);
    const seen = await lookup(table, ['k0']);
    assert.deepEqual([seen.generation, seen.epoch, seen.results], [first.b.shadow, r.epoch, [{ s: 'found', value: 'v0' }]]);
    clock.advance(GRACE + 1);
    await admin.gc();
    assert.equal(await partitionSize(table, b.shadow), 0);
    assert.equal(await partitionSize(table, first.b.shadow), 5);
  });

  it('rollback of a first load makes the table disappear again', async () => {
    const b = await admin.begin({ table, service: 'alias', owner: 'test' });
    await admin.send(table, b.txn, entries('v', 3));
    await admin.validate(table, b.txn, 3);
    await admin.apply(table, b.txn);
    assert.equal((await lookup(table, ['k0'])).generation, b.shadow);
    await admin.rollback(table, b.txn);
    await assert.rejects(lookup(table, ['k0']), /404/);
  });

  it('undo (cloudtable rollback) restores the previous generation while it is kept, and can be undone', async () => {
    const first = await load(table, entries('v', 5));
    const second = await load(table, entries('w', 7));
    const u = await admin.undo({ table });
    assert.deepEqual([u.generation, u.previous], [first.b.shadow, second.b.shadow]);
    assert.ok(u.epoch > second.c.epoch);
    const seen = await lookup(table, ['k0']);
    assert.deepEqual([seen.generation, seen.results], [first.b.shadow, [{ s: 'found', value: 'v0' }]]);
    assert.equal((await admin.list({ table })).count, 5);
    const redo = await admin.undo({ table });
    assert.equal(redo.generation, second.b.shadow);
    assert.equal((await admin.list({ table })).count, 7);
    // Once the keeping time is over, the previous generation is collected and undo has nothing left.
    clock.advance(KEEP + 1);
    await admin.gc();
    assert.equal(await partitionSize(table, first.b.shadow), 0);
    await rejects(admin.undo({ table }), 'nothing-to-undo');
    assert.equal(await partitionSize(table, second.b.shadow), 7, 'the active generation is never collected');
  });

  it('a commit collects the generation before the previous one after the grace period', async () => {
    const g1 = await load(table, entries('a', 3));
    const g2 = await load(table, entries('b', 3));
    const g3 = await load(table, entries('c', 3));
    assert.equal(g3.c.previous, g2.b.shadow);
    await admin.gc();
    assert.equal(await partitionSize(table, g1.b.shadow), 3, 'not before the grace period: a lookup may still read it');
    clock.advance(GRACE + 1);
    await admin.gc();
    assert.equal(await partitionSize(table, g1.b.shadow), 0);
    assert.equal(await partitionSize(table, g2.b.shadow), 3);
  });

  it('refuses steps out of order and unknown transactions', async () => {
    await load(table, entries('v', 2));
    const b = await admin.begin({ table, owner: 'test' });
    await rejects(admin.apply(table, b.txn), 'bad-state', /validate first/);
    await rejects(admin.commit(table, b.txn), 'bad-state');
    await rejects(admin.send(table, 'not-a-txn', entries('x', 1)), 'no-transaction');
    await admin.send(table, b.txn, entries('w', 2));
    // A lost batch is a failed validation, not a refused request.
    const v = await admin.validate(table, b.txn, 3);
    assert.equal(v.ok, false);
    assert.match(v.problem ?? '', /sent 3 entries but 2 arrived/);
    await admin.rollback(table, b.txn);
    await rejects(admin.begin({ table: 'fresh-' + table, owner: 'test' }), 'no-service');
    await rejects(admin.list({ table: 'missing-' + table }), 'unknown-table');
  });

  it('status lists every table with its generation and transaction', async () => {
    await load(table, entries('v', 4));
    const b = await admin.begin({ table, owner: 'status-test' });
    const s = await admin.status();
    const mine = s.tables.find((t) => t.table === table);
    assert.ok(mine);
    assert.equal(mine.count, 4);
    assert.equal(mine.transaction?.owner, 'status-test');
    assert.equal(mine.transaction?.state, 'open');
    await admin.rollback(table, b.txn);
  });

  it('keys repeated across batches make validation fail', async () => {
    const b = await admin.begin({ table, service: 'alias', owner: 'test' });
    await admin.send(table, b.txn, entries('v', 3));
    await admin.send(table, b.txn, entries('w', 3));
    const v = await admin.validate(table, b.txn, 6);
    assert.equal(v.ok, false);
    assert.match(v.problem ?? '', /6 entries were sent but the shadow generation holds 3/);
    await admin.rollback(table, b.txn);
  });
});
