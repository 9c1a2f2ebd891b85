// The command line of `npm run bench`: names to filter the benchmarks by,
// and the options some of them take (`--duration SECONDS`, `--short`).

import { parseArgs } from 'node:util';

export interface BenchOptions {
  filters: string[];
  /** How long a benchmark that runs a workload for a while runs it (s); undefined: its default. */
  durationS: number | undefined;
  /** A quick run, to check that it works rather than to measure. */
  short: boolean;
}

export function benchOptions(argv: string[] = process.argv.slice(2)): BenchOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { duration: { type: 'string' }, short: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const durationS = values.duration === undefined ? undefined : Number(values.duration);
  if (durationS !== undefined && !(durationS > 0)) throw new Error(`--duration ${values.duration}: a number of seconds above 0`);
  return { filters: positionals, durationS, short: values.short ?? false };
}
