// What `cloudtable load` says when a step's answer is lost: the real CLI,
// through a TCP relay that loses a chosen reply (the backend carried the
// request out) or request, to the real backend. After any failed step the
// loader asks the function what the table is, and says that: committed,
// rolled back, or still held (by whom, until when), with the exit code
// that matches.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LoadHarness } from './helpers/load.js';
import type { Relay } from './helpers/relay.js';

describe('cloudtable load reports the table as it is after a lost answer', () => {
  const h = new LoadHarness(30_000);
  let relay: Relay;
  let n = 0;
  let table: string;

  before(async () => {
    await h.start();
    relay = await h.relay();
  });
  after(() => h.stop());
  beforeEach(() => {
    table = `lost${++n}`;
  });

  const load = (file: string, upstream = h.backend.url, extra: string[] = []) => h.cli(['load', table, file, '--admin', relay.url, '--upstream', upstream, ...extra]);

  it('the reply to commit lost: the table was committed, and the loader says so (exit 0)', async () => {
    await h.seed(table);
    relay.lose('/v1/admin/commit', 'reply');
    const r = await load(h.file('c1', 'root bob\n'));
    assert.deepEqual(relay.lost, ['reply /v1/admin/commit']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /commit: .*closed/);
    assert.match(r.stdout, /committed: generation 2 is active \(epoch 6\) \(the function's state shows this load's generation committed\)/);
    assert.doesNotMatch(r.stdout, /rolled back/);
    assert.equal(await h.value(table, 'root'), 'bob');
    assert.equal((await h.admin.list({ table })).transaction, undefined);
  });

  it('the reply to apply lost: rolled back, exit 75', async () => {
    relay.lost.length = 0;
    await h.seed(table);
    relay.lose('/v1/admin/apply', 'reply');
    const r = await load(h.file('c2', 'root bob\n'));
    assert.equal(r.code, 75, r.stdout + r.stderr);
    assert.match(r.stderr, /apply: .*closed/);
    assert.match(r.stdout, /nothing changed\n$/);
    assert.equal(await h.value(table, 'root'), 'alice');
    assert.equal((await h.admin.list({ table })).transaction, undefined);
  });

  it('apply answered but lost, and the rollback lost too (its reply, then its request): says exactly what the table is', async () => {
    relay.lost.length = 0;
    await h.seed(table);
    relay.lose('/v1/admin/apply', 'reply');
    relay.lose('/v1/admin/rollback', 'reply');
    const done = await load(h.file('c3', 'root bob\n'));
    assert.deepEqual(relay.lost, ['reply /v1/admin/apply', 'reply /v1/admin/rollback']);
    assert.equal(done.code, 75, done.stdout + done.stderr);
    assert.match(done.stdout, /nothing changed: generation 1 is active \(epoch \d+\)\n$/, 'the rollback was carried out: generation 1 again');
    assert.equal(await h.value(table, 'root'), 'alice');

    relay.lose('/v1/admin/apply', 'reply');
    relay.lose('/v1/admin/rollback', 'request');
    const held = await load(h.file('c4', 'root carol\n'));
    assert.equal(held.code, 75, held.stdout + held.stderr);
    assert.match(
      held.stdout,
      /still held: this load's transaction \(.*pid \d+\)\) holds table lost\d+, applied, until \d{4}-.*Z \(\d+ s\); generation 3 is active \(epoch \d+\); when the lease runs out the table goes back to generation 1\n$/,
    );
    assert.equal(await h.value(table, 'root'), 'carol', 'applied and never rolled back: served until the lease runs out');
    h.clock.advance(30_001);
    assert.equal(await h.value(table, 'root'), 'alice');
  });

  it('the begin answered but lost: the loader finds its own transaction by owner and says it holds the table', async () => {
    relay.lost.length = 0;
    await h.seed(table);
    relay.lose('/v1/admin/begin', 'reply');
    const r = await load(h.file('c5', 'root bob\n'));
    assert.equal(r.code, 75, r.stdout + r.stderr);
    assert.match(r.stdout, /still held: this load's transaction .* open, until .*; generation 1 is active \(epoch \d+\); when the lease runs out it is discarded/);
    h.clock.advance(30_001);
  });

  it('a confirmation lookup that fails on the network: rolled back, exit 75 like the other steps', async () => {
    const readerRelay = await h.relay();
    await h.seed(table);
    readerRelay.lose('/v1/lookup', 'reply');
    const r = await load(h.file('c6', 'root bob\n'), readerRelay.url, ['--confirm-with', 'root']);
    assert.equal(r.code, 75, r.stdout + r.stderr);
    assert.match(r.stdout, /NOT confirmed: root lookup failed: .*\nrolled back to generation 1\n$/);
    assert.equal(await h.value(table, 'root'), 'alice');
  });
});
