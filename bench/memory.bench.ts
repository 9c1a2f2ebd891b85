// Memory per million cached entries: the proxy's answer cache (lru-cache
// with the resolver's entries) against a plain Map of the same keys and
// values, each filled in a fresh process; resident and heap growth after GC.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTable, ratio } from './lib/report.js';

export const title = 'memory: resident bytes per million cached entries';

const N = 1_000_000;
const MiB = 2 ** 20;

interface Fill {
  rss: number;
  heap: number;
  estimate: number;
}

function fill(kind: 'cloudtable' | 'map'): Promise<Fill> {
  const script = fileURLToPath(new URL('./lib/fill-cache.ts', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--import', 'tsx', script, String(N), kind], { maxBuffer: 1 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as Fill),
    ),
  );
}

export async function run(): Promise<void> {
  const subject = await fill('cloudtable');
  const reference = await fill('map');
  printTable(
    ['1,000,000 entries (`user123@example.org` → `mailbox123, archive@example.org`)', 'resident MiB', 'heap MiB', 'ratio (resident)', 'cache.bytes estimate MiB'],
    [
      ['cloudtable answer cache (lru-cache, resolver entries)', subject.rss / MiB, subject.heap / MiB, ratio(subject.rss, reference.rss), subject.estimate / MiB],
      ['plain Map of the same strings', reference.rss / MiB, reference.heap / MiB, '1.00×', '–'],
    ],
  );
}
