// `cloudtable load` of a 100,000-entry table through the admin function and
// the local backend, against the bare store writing the same items with
// BatchWriteItem in process (no HTTP, no validation, no transaction): what
// the transaction costs in time, and in DynamoDB write units as DynamoDB
// counts them (dynalite reports consumed capacity like DynamoDB: 1 unit per
// item of up to 1 KB written or deleted).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadHarness } from '../test/helpers/load.js';
import { printTable, ratio } from './lib/report.js';

export const title = 'cloudtable load: 100,000 entries, time and DynamoDB write units';

const ENTRIES = 100_000;

export async function run(): Promise<void> {
  const h = new LoadHarness(30_000);
  await h.start();
  const rows: Array<Array<string | number>> = [];
  const measure = async (what: string, entries: number, work: () => Promise<void>): Promise<number> => {
    const units = h.backend.store.units.write;
    const t0 = performance.now();
    await work();
    const seconds = (performance.now() - t0) / 1000;
    const wcu = h.backend.store.units.write - units;
    rows.push([what, entries, seconds.toFixed(1), Math.round(entries / seconds), wcu, (wcu / entries).toFixed(3)]);
    return seconds;
  };
  const file = (name: string, value: (i: number) => string): string => {
    const path = join(h.dir, name);
    const lines: string[] = [];
    for (let i = 0; i < ENTRIES; i++) lines.push(`user${i}@example.org ${value(i)}`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const load = async (path: string): Promise<void> => {
    const r = await h.cli(['load', 'virtual', path, '--service', 'alias', ...h.urls()]);
    if (r.code !== 0) throw new Error(`load failed: ${r.stdout}${r.stderr}`);
  };
  try {
    const first = file('v1', (i) => `mailbox${i}@example.net`);
    const second = file('v2', (i) => (i % 10 === 0 ? `other${i}@example.net` : `mailbox${i}@example.net`));
    const bare = await measure('bare BatchWriteItem, in process (reference)', ENTRIES, async () => {
      await h.backend.store.writeEntries('reference', 1, Array.from({ length: ENTRIES }, (_, i): [string, string] => [`user${i}@example.org`, `mailbox${i}@example.net`]));
    });
    const loaded = await measure('cloudtable load, new table', ENTRIES, () => load(first));
    await measure('cloudtable load, replacing it (10 % changed)', ENTRIES, () => load(second));
    // The replaced generation is kept for `cloudtable rollback` (24 h); once that is over it is deleted.
    h.clock.advance(25 * 3600_000);
    await measure('deleting the replaced generation (collector)', ENTRIES, async () => {
      for (let r = await h.admin.gc(60_000); r.remaining; r = await h.admin.gc(60_000));
    });
    printTable(['operation', 'entries', 'seconds', 'entries/s', 'write units', 'units per entry'], rows);
    process.stdout.write(`\nnew-table load / bare writes: ${ratio(loaded, bare)} the time\n`);
  } finally {
    await h.stop();
  }
}
