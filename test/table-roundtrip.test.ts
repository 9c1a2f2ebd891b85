// `cloudtable show | cloudtable load` gives back the same table. A property
// test of the writer (the format show chooses, and its lines) against the
// reader load uses, for random tables whose keys and values hold spaces,
// colons, quotes, brackets, `#`, capitals and any Unicode; then the real
// commands once, show's output loaded into a new table through the backend.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { replaceTable } from '../lambda/store/replace.js';
import { parseTableStream } from '../proxy/load/table-file.js';
import { carries, line, preamble, type Entry } from '../proxy/load/table-output.js';
import { isListService } from '../proxy/load/services.js';
import { LoadHarness } from './helpers/load.js';

/** What load stores from a file: a list entry's empty value is its key. */
async function reload(text: string, format: 'smtpd' | 'postmap' | 'jsonl', service: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const p of parseTableStream(Readable.from([Buffer.from(text)]), { format, foldCase: true })) {
    if ('error' in p) throw new Error(`line ${p.line}: ${p.error}`);
    out.push({ key: p.key, value: p.value === '' && isListService(service) ? p.key : p.value });
  }
  return out;
}

const sorted = (es: Entry[]): Entry[] => [...es].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

// Keys and values made mostly of the characters that trip the text formats.
const tricky = fc.oneof(
  fc.constantFrom(' ', '\t', ':', '"', "'", '\\', '#', '[', ']', 'A', 'z', 'é', '★', '\u2028', '\v', '{', '}', ',', '|', '@'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }),
);
const text = fc.array(tricky, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(''));

describe('show | load round trip', () => {
  it('for random tables, the form show writes loads back to the same entries (text when it can, JSON Lines else)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('alias', 'domain', 'credentials', 'string', 'netaddr'),
        fc.uniqueArray(fc.record({ key: text, value: text }), { selector: (e) => e.key, minLength: 1, maxLength: 30 }),
        fc.boolean(),
        async (service, raw, listLike) => {
          const entries = raw.map((e) => ({ key: e.key, value: listLike && isListService(service) ? e.key : e.value }));
          for (const format of ['smtpd', 'postmap', 'jsonl'] as const) {
            if (!entries.every((e) => carries(format, service, e))) continue;
            const written = `# table t: generation 1\n${preamble(format, service)}${entries.map((e) => line(format, service, e)).join('')}`;
            assert.deepEqual(sorted(await reload(written, format, service)), sorted(entries), `${format}:\n${written}`);
          }
          assert.ok(entries.every((e) => carries('jsonl', service, e)));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('text is chosen for ordinary tables', () => {
    assert.ok([{ key: 'root', value: 'alice, bob@example.org' }].every((e) => carries('smtpd', 'alias', e)));
    assert.ok([{ key: '2001:db8::/32', value: '2001:db8::/32' }].every((e) => carries('smtpd', 'netaddr', e)), 'a list carries colons after # @list');
    assert.ok(!carries('smtpd', 'alias', { key: 'a b', value: 'x' }));
    assert.ok(!carries('smtpd', 'alias', { key: 'Root', value: 'x' }), 'load folds keys');
  });

  describe('through the real commands', () => {
    const h = new LoadHarness(30_000);
    before(() => h.start());
    after(() => h.stop());

    it('show prints JSON Lines for keys the text formats cannot carry, and load --format jsonl restores them exactly', async () => {
      const nasty: Array<[string, string]> = [
        ['with space', 'a b'],
        ['colon:key', 'c'],
        ['"quoted"', "it's"],
        ['Upper Case', 'é★'],
        ['#hash', '  padded  '],
        ['[bracket', 'x'],
      ];
      await replaceTable(h.backend.store, 'nasty', nasty, 'userinfo');
      const shown = await h.cli(['show', 'nasty', '--admin', h.backend.url]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^# table nasty: generation 1 \(epoch \d+\), service userinfo, 6 entries, jsonl format\n\{"key":/);
      const loaded = await h.cli(['load', 'nasty2', '-', '--format', 'jsonl', '--service', 'string', ...h.urls()], shown.stdout);
      assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr);
      const back = (await h.admin.list({ table: 'nasty2' })).entries;
      assert.deepEqual(sorted(back), sorted(nasty.map(([key, value]) => ({ key, value }))));
      const text = await h.cli(['show', 'nasty', '--format', 'smtpd', '--admin', h.backend.url]);
      assert.equal(text.code, 65);
      assert.match(text.stderr, /the smtpd format cannot carry the entry .* use --format jsonl/);
    });
  });
});
