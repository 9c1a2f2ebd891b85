// Loads that do not end well: Ctrl-C while sending, Ctrl-C after apply, and
// the loader killed between apply and commit (its lease runs out), as
// processes against the local backend on a test clock.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CliProcess } from './helpers/cli.js';
import { TEST_ENV } from './helpers/backend.js';
import { LoadHarness } from './helpers/load.js';

const LEASE = 30_000;

describe('cloudtable load interrupted', () => {
  const h = new LoadHarness(LEASE);
  let n = 0;
  let table: string;

  before(() => h.start());
  after(() => h.stop());
  beforeEach(() => {
    table = `int${++n}`;
  });

  it('Ctrl-C while sending rolls back and exits 130', async () => {
    await h.seed(table);
    const p = new CliProcess(['load', table, '-', ...h.urls()], TEST_ENV);
    let text = '';
    for (let i = 0; i < 3000; i++) text += `user${i} mailbox${i}\n`;
    p.child.stdin.write(text); // more than one batch; stdin stays open
    for (let i = 0; i < 200; i++) {
      const t = (await h.admin.list({ table })).transaction;
      if (t && t.sent > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    p.child.kill('SIGINT');
    const r = await p.result();
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stdout, /interrupted: nothing changed/);
    assert.equal((await h.admin.list({ table })).transaction, undefined);
    assert.equal(await h.value(table, 'root'), 'alice');
  });

  it('Ctrl-C after apply (while confirming) swaps back and exits 130', async () => {
    await h.seed(table);
    const p = new CliProcess(['load', table, h.file('a7b', 'root bob\n'), '--confirm-with', 'root', ...h.urls(h.hole.url)], TEST_ENV);
    await p.waitFor(/applied: generation 2/);
    assert.equal(await h.value(table, 'root'), 'bob');
    p.child.kill('SIGINT');
    const r = await p.result();
    assert.equal(r.code, 130);
    assert.match(r.stdout, /interrupted: rolled back/);
    assert.equal(await h.value(table, 'root'), 'alice');
  });

  it('a loader killed between apply and commit: rolled back when its lease runs out, and the table is free again', async () => {
    await h.seed(table);
    const p = new CliProcess(['load', table, h.file('a8b', 'root bob\n'), '--confirm-with', 'root', ...h.urls(h.hole.url)], TEST_ENV);
    await p.waitFor(/applied: generation 2/);
    p.child.kill('SIGKILL');
    await p.result();
    assert.equal(await h.value(table, 'root'), 'bob', 'applied, not yet committed: the new generation is served during the lease');
    const busy = await h.cli(['load', table, h.file('a8c', 'root carol\n'), ...h.urls()]);
    assert.equal(busy.code, 75);
    h.clock.advance(LEASE + 1);
    assert.equal(await h.value(table, 'root'), 'alice', 'the lease ran out: readers are back on the old generation');
    const again = await h.cli(['load', table, h.file('a8d', 'root dave\n'), ...h.urls()]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /applied: generation 3 replaces generation 1/, 'generation numbers are never reused');
    assert.equal(await h.value(table, 'root'), 'dave');
  });
});
