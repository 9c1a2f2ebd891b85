// `npm run bench [-- FILTER…] [--duration S] [--short]`: runs every
// bench/*.bench.ts in name order (or those whose name contains a FILTER)
// and prints each one's table (the options: bench/lib/options.ts).
// Each benchmark measures its subject and a reference side by side in the
// same run, so the ratios mean something on a noisy machine.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchOptions } from './lib/options.js';
import { machineLine } from './lib/report.js';

export interface BenchModule {
  title: string;
  run(): Promise<void>;
}

const dir = fileURLToPath(new URL('.', import.meta.url));
const { filters } = benchOptions();
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

process.stdout.write(`${machineLine()}\n`);
for (const file of files) {
  const mod = (await import(new URL(file, import.meta.url).href)) as BenchModule;
  process.stdout.write(`\n## ${mod.title} (bench/${file})\n\n`);
  await mod.run();
}
process.exit(0);
