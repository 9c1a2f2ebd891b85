// `cloudtable load`, `show`, `rollback` and `status` as processes against
// the local backend: committed, invalid file, dry run, busy table,
// confirmation lookups, undo, exit codes of bad input. Interruptions are in
// load-interrupt.test.ts, lost answers in load-outcome.test.ts, the shrink
// guard in load-shrink.test.ts.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { join } from 'node:path';
import { replaceTable } from '../lambda/store/replace.js';
import { ALIASES_FILE, LoadHarness } from './helpers/load.js';

describe('cloudtable load, show, rollback, status', () => {
  const h = new LoadHarness(30_000);
  let n = 0;
  let table: string;

  before(() => h.start());
  after(() => h.stop());
  beforeEach(() => {
    table = `load${++n}`;
  });

  it('loads a new table from a table(5) file; show prints it; status lists it', async () => {
    const r = await h.cli(['load', table, h.file('a1', ALIASES_FILE), '--service', 'alias', ...h.urls()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${table}: 3 entries read from .*a1 \\(smtpd format, service alias\\)`));
    assert.match(r.stdout, /validated: 3 entries; 3 added, 0 removed, 0 changed/);
    assert.match(r.stdout, /applied: generation 1 \(epoch 1\)/);
    assert.match(r.stdout, /committed: generation 1/);
    assert.equal(await h.value(table, 'postmaster'), 'root', 'keys are folded as smtpd folds them');

    const shown = await h.cli(['show', table, '--admin', h.backend.url]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout, `# table ${table}: generation 1 (epoch 3), service alias, 3 entries\nabuse root, security@example.org\npostmaster root\nroot alice\n`);

    const status = await h.cli(['status', ...h.urls()]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${table}: generation 1 \\(epoch 3\\), service alias, 3 entries.*reader answers generation 1 \\(epoch 3\\)`));
  });

  it('loads a list for a list service and a postmap file with continuation lines', async () => {
    const list = await h.cli(['load', table, h.file('d1', 'example.org\n*.Example.NET\n'), '--service', 'domain', ...h.urls()]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((await h.admin.list({ table })).entries, [
      { key: '*.example.net', value: '*.example.net' },
      { key: 'example.org', value: 'example.org' },
    ]);
    const pm = `${table}-pm`;
    const r = await h.cli(['load', pm, h.file('p1', 'Sales@Example.org alice@example.org,\n  bob@example.org\n# end\n'), '--format', 'postmap', '--service', 'alias', ...h.urls()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await h.value(pm, 'sales@example.org'), 'alice@example.org,  bob@example.org');
  });

  it('an invalid file: every error with its line, exit 65, the table untouched and free', async () => {
    await h.seed(table);
    const bad = `root alice\nbob\nroot carol\nok: fine\ny: "unterminated\nbig ${'x'.repeat(200_000)}\n`;
    const r = await h.cli(['load', table, h.file('bad', bad), ...h.urls()]);
    assert.equal(r.code, 65, r.stderr);
    assert.match(
      r.stdout,
      /bad: 4 errors:\n  line 2: "bob" has no value, but this is a key-value table \(line 1 made it one\)\n  line 3: "root" is already on line 1\n  line 5: "y": unterminated quote or escape in alias list\n  line 6: "big": value longer than 131072 bytes\nnothing changed\n/,
    );
    assert.equal(await h.value(table, 'root'), 'alice');
    const l = await h.admin.list({ table });
    assert.deepEqual([l.generation, l.transaction], [1, undefined]);
  });

  it('--dry-run shows what would change and changes nothing', async () => {
    await h.seed(table);
    const r = await h.cli(['load', table, h.file('a3b', 'root bob\npostmaster root\nnew x@example.org\n'), '--dry-run', ...h.urls()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /validated: 3 entries; 1 added, 1 removed, 1 changed\ndry run: nothing changed\n/);
    assert.equal(await h.value(table, 'root'), 'alice');
    assert.equal((await h.admin.list({ table })).transaction, undefined);
  });

  it('a second writer is told who holds the table, and exits 75 (try later)', async () => {
    await h.seed(table);
    const held = await h.admin.begin({ table, owner: 'alice@mx1 (pid 42)' });
    const r = await h.cli(['load', table, h.file('a4b', ALIASES_FILE), ...h.urls()]);
    assert.equal(r.code, 75);
    assert.match(r.stderr, /table .* is being replaced by another transaction \(alice@mx1 \(pid 42\), started .*\); it holds the table for \d+ s more/);
    h.clock.advance(10_000);
    const status = await h.cli(['status', ...h.urls()]);
    const left = new RegExp(`${table}: .*transaction open by alice@mx1 \\(pid 42\\) \\([^)]*\\), 0 entries sent, 0 refused, lease (\\d+) s left \\(until \\d{4}-`).exec(status.stdout);
    assert.ok(left && Number(left[1]) > 0 && Number(left[1]) <= 20, status.stdout);
    await h.admin.rollback(table, held.txn);
  });

  it('--confirm-with: commits when every key is found through the reader, rolls back otherwise', async () => {
    await h.seed(table);
    const ok = await h.cli(['load', table, h.file('a5b', 'root bob\nabuse root\n'), '--confirm-with', 'root,abuse', ...h.urls()]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /confirmed: root → bob\nconfirmed: abuse → root\ncommitted: generation 2/);
    const missing = await h.cli(['load', table, h.file('a5c', 'root carol\n'), '--confirm-with', 'root', '--confirm-with', 'abuse', ...h.urls()]);
    assert.equal(missing.code, 65, 'the new table lacks a key it must have: a data error');
    assert.match(missing.stdout, /confirmed: root → carol\nNOT confirmed: abuse not found\nrolled back to generation 2\n/);
    assert.equal(await h.value(table, 'root'), 'bob');
  });

  it('rollback restores the previous generation, again restores the newer one, and says when there is nothing to undo', async () => {
    const none = await h.cli(['rollback', table, '--admin', h.backend.url]);
    assert.equal(none.code, 66);
    assert.match(none.stderr, /does not exist/);
    await h.seed(table);
    await replaceTable(h.backend.store, table, [['root', 'bob']]);
    const u = await h.cli(['rollback', table, '--admin', h.backend.url]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, new RegExp(`${table}: generation 1 is active again \\(epoch \\d+\\); generation 2 is kept until .* \\(run again to go back to it\\)`));
    assert.equal(await h.value(table, 'root'), 'alice');
    const redo = await h.cli(['rollback', table, '--admin', h.backend.url]);
    assert.equal(redo.code, 0);
    assert.equal(await h.value(table, 'root'), 'bob');
  });

  it('a new table needs --service; an unreadable file is a clear error', async () => {
    const r = await h.cli(['load', table, h.file('a10', ALIASES_FILE), ...h.urls()]);
    assert.equal(r.code, 64, 'a usage error');
    assert.match(r.stderr, /table .* is new: say which service it is for with --service/);
    const missing = await h.cli(['load', table, join(h.dir, 'no-such-file'), '--service', 'alias', ...h.urls()]);
    assert.equal(missing.code, 66);
    assert.match(missing.stderr, /^cloudtable load: cannot read .*no-such-file: ENOENT/);
    const dir = await h.cli(['load', table, h.dir, '--service', 'alias', ...h.urls()]);
    assert.equal(dir.code, 66, dir.stderr);
    assert.equal(dir.stderr, `cloudtable load: cannot read ${h.dir}: it is a directory\n`);
    const usage = await h.cli(['load', table, '--no-such-flag', ...h.urls()]);
    assert.equal(usage.code, 64, usage.stderr);
    assert.match(usage.stderr, /unknown option '--no-such-flag'/);
  });
});
