// A fresh process fills a cache with N entries shaped like a mail table's
// (`user123@example.org` → `mailbox123, archive@example.org`) and prints its
// memory before and after, as JSON: `cloudtable` fills the proxy's answer
// cache with the entries the resolver stores, `map` a plain Map of the same
// strings (the reference). Run with --expose-gc.

import { buildConfig } from '../../proxy/config.js';
import { AnswerCache } from '../../proxy/resolver/cache.js';
import { cacheKey } from '../../proxy/resolver/resolver.js';

const n = Number(process.argv[2]);
const kind = process.argv[3];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const measure = (): { rss: number; heap: number } => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
};

const entry = (i: number): [string, string] => [`user${i}@example.org`, `mailbox${i}, archive@example.org`];
const before = measure();
let estimate = 0;
if (kind === 'cloudtable') {
  const config = buildConfig({ cache: { max_entries: n, max_bytes: 2 ** 40 } });
  const cache = new AnswerCache(config.cache);
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const [k, v] = entry(i);
    cache.set(cacheKey('aliases', 'alias', k), { value: v, generation: 1, freshUntil: now + 300_000, staleUntil: now + 3_900_000 });
  }
  estimate = cache.bytes;
  (globalThis as { keep?: unknown }).keep = cache;
} else {
  const map = new Map<string, string>();
  for (let i = 0; i < n; i++) map.set(...entry(i));
  (globalThis as { keep?: unknown }).keep = map;
}
const after = measure();
process.stdout.write(`${JSON.stringify({ rss: after.rss - before.rss, heap: after.heap - before.heap, estimate })}\n`);
