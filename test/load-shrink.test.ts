// The guard against emptying or shrinking a table by accident, through
// `cloudtable load` as a process against the local backend: an empty file,
// a comments-only file and empty stdin are refused for a non-empty table
// (exit 65, nothing changed), the dry run gives the same verdict,
// --allow-shrink and --max-remove set the limit, and a large removal is
// warned about.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LoadHarness } from './helpers/load.js';

describe('cloudtable load refuses to empty a table by accident', () => {
  const h = new LoadHarness(30_000);
  let n = 0;
  let table: string;

  before(() => h.start());
  after(() => h.stop());
  beforeEach(() => {
    table = `shrink${++n}`;
  });

  it('an empty file, a comments-only file, empty stdin: refused for a non-empty table (exit 65), the dry run says the same', async () => {
    await h.seed(table);
    for (const [name, args, input] of [
      ['empty file', [h.file('e1', '')], undefined],
      ['comments only, dry run', [h.file('e2', '# nothing here\n\n   \n# @list\n'), '--dry-run'], undefined],
      ['empty stdin', ['-'], ''],
    ] as const) {
      const r = await h.cli(['load', table, ...args, ...h.urls()], input);
      assert.equal(r.code, 65, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /validated: 0 entries; 0 added, 3 removed, 0 changed\nrefused: the load would empty the table \(removes all 3 entries\); --allow-shrink loads it anyway\n(dry run: )?nothing changed\n$/, name);
    }
    assert.equal(await h.value(table, 'root'), 'alice');
    const l = await h.admin.list({ table });
    assert.deepEqual([l.generation, l.count, l.transaction], [1, 3, undefined]);
    const allowed = await h.cli(['load', table, h.file('e4', ''), '--allow-shrink', ...h.urls()]);
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stderr, /warning: the load removes 3 of 3 entries \(100 %\)/);
    assert.equal(await h.value(table, 'root'), undefined);
  });

  it('--max-remove refuses a load removing a larger share; above half removed, a warning', async () => {
    await h.seed(table);
    const r = await h.cli(['load', table, h.file('m1', 'root alice\nnew x\n'), '--max-remove', '50', ...h.urls()]);
    assert.equal(r.code, 65, r.stdout + r.stderr);
    assert.match(r.stdout, /refused: the load would remove 2 of 3 entries \(67 %\), more than --max-remove 50 %; --allow-shrink loads it anyway\nnothing changed\n$/);
    const w = await h.cli(['load', table, h.file('m2', 'root alice\nnew x\n'), ...h.urls()]);
    assert.equal(w.code, 0, w.stdout + w.stderr);
    assert.match(w.stderr, /warning: the load removes 2 of 3 entries \(67 %\)/);
  });
});
