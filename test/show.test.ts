// `cloudtable show` as a process against the real backend, through a relay
// that swaps the table between two pages of the listing: every line comes
// from the generation of the header, or the command fails (exit 75) — never
// a mixture. And `show | head` ends quietly.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { replaceTable } from '../lambda/store/replace.js';
import { TEST_ENV } from './helpers/backend.js';
import { CliProcess } from './helpers/cli.js';
import { LoadHarness } from './helpers/load.js';
import type { Relay } from './helpers/relay.js';

const SIZE = 2500; // three pages

function generationOf(tag: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < SIZE; i++) entries.push([`user${String(i).padStart(5, '0')}`, tag]);
  return entries;
}

describe('cloudtable show during swaps', () => {
  const h = new LoadHarness(30_000);
  let relay: Relay;
  let n = 0;
  let table: string;

  before(async () => {
    await h.start();
    relay = await h.relay();
  });
  after(() => h.stop());
  beforeEach(async () => {
    table = `show${++n}`;
    await replaceTable(h.backend.store, table, generationOf('g1'), 'alias');
  });

  const show = (...extra: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> => h.cli(['show', table, '--admin', relay.url, ...extra]);

  it('a swap between pages: every line still from the generation of the header', async () => {
    relay.before('/v1/admin/list', async (page) => {
      if (page === 2) await replaceTable(h.backend.store, table, generationOf('g2'));
    });
    const r = await show();
    assert.equal(r.code, 0, r.stderr);
    const [header, ...lines] = r.stdout.trimEnd().split('\n');
    assert.match(header!, new RegExp(`^# table ${table}: generation 1 \\(epoch \\d+\\), service alias, ${SIZE} entries$`));
    assert.equal(lines.length, SIZE);
    assert.deepEqual(new Set(lines.map((l) => l.split(' ')[1])), new Set(['g1']));
    assert.equal(await h.value(table, 'user00000'), 'g2', 'the swap did happen');
  });

  it('the generation let go during a streamed listing (JSON Lines, two swaps): exit 75, and nothing from another generation', async () => {
    relay.before('/v1/admin/list', async (page) => {
      if (page !== 2) return;
      await replaceTable(h.backend.store, table, generationOf('g2'));
      await replaceTable(h.backend.store, table, generationOf('g3'));
    });
    // JSON Lines is written page by page (text waits until it knows it can carry every entry).
    const r = await show('--format', 'jsonl');
    assert.equal(r.code, 75, r.stdout.slice(0, 200) + r.stderr);
    assert.match(r.stderr, /^cloudtable show: .*generation 1 of table show\d+ is no longer kept .*: list again\n$/);
    const lines = r.stdout.trimEnd().split('\n').slice(1);
    assert.equal(lines.length, 1000, 'the first page only');
    assert.deepEqual(new Set(lines.map((l) => (JSON.parse(l) as { value: string }).value)), new Set(['g1']));
  });

  it('show | head: ends quietly when the reader goes away', async () => {
    const p = new CliProcess(['show', table, '--admin', h.backend.url], TEST_ENV);
    p.child.stdout.once('data', () => p.child.stdout.destroy());
    const r = await p.result();
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });
});
