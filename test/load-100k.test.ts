// A 100,000-entry table loaded by `cloudtable load` (a process) through the
// admin function into the local backend: every entry arrives, and the time
// and the DynamoDB write units it costs are measured (DynamoDB's own
// accounting, as dynalite reports it: 1 unit per item of up to 1 KB).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoadHarness } from './helpers/load.js';

const ENTRIES = 100_000;

describe('a 100,000-entry load', () => {
  const h = new LoadHarness(30_000);
  before(() => h.start());
  after(() => h.stop());

  it('loads every entry in one transaction, at about one write unit per entry', async (t) => {
    const lines: string[] = [];
    for (let i = 0; i < ENTRIES; i++) lines.push(`user${i}@example.org\tmailbox${i}@example.net`);
    const path = join(h.dir, 'virtual');
    writeFileSync(path, `${lines.join('\n')}\n`);

    const units = h.backend.store.units.write;
    const t0 = performance.now();
    const r = await h.cli(['load', 'virtual', path, '--service', 'alias', '--confirm-with', 'user0@example.org,user99999@example.org', ...h.urls()]);
    const seconds = (performance.now() - t0) / 1000;
    const wcu = h.backend.store.units.write - units;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /validated: 100000 entries; 100000 added, 0 removed, 0 changed/);
    assert.match(r.stdout, /confirmed: user99999@example.org → mailbox99999@example.net/);

    const l = await h.admin.list({ table: 'virtual', limit: 1 });
    assert.equal(l.count, ENTRIES);
    const sample = [0, 1, 4242, 50_000, 99_998].map((i) => `user${i}@example.org`);
    const found = await h.reader.lookup('virtual', sample.map((key) => ({ service: 'alias', key })), 10_000);
    assert.deepEqual(
      found.results,
      sample.map((k) => ({ s: 'found', value: k.replace('user', 'mailbox').replace('example.org', 'example.net') })),
    );
    // Each entry is one item under 1 KB: one unit; the transaction adds a META write per batch of 1,000.
    assert.ok(wcu >= ENTRIES && wcu <= ENTRIES * 1.01, `${wcu} write units`);
    t.diagnostic(`100,000 entries: ${seconds.toFixed(1)} s (${Math.round(ENTRIES / seconds)} entries/s), ${wcu} DynamoDB write units`);
  });
});
