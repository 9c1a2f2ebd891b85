// Coalescing: many callers asking for the same keys at once make one query
// per key, against the same number of lookups of distinct keys, through the
// real HTTP client and the local backend. Alternating rounds; medians.

import { startTestBackend } from '../test/helpers/backend.js';
import { testConfig, testResolver } from '../test/helpers/resolver.js';
import { printTable, ratio } from './lib/report.js';

export const title = 'resolver: concurrent identical misses coalesced';

const LOOKUPS = 10_000;
const ROUNDS = 3;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const entries: Array<[string, string]> = Array.from({ length: LOOKUPS }, (_, i) => [`user${i}@example.org`, `mailbox${i}`]);
  const backend = await startTestBackend({ bench: entries });

  /** All LOOKUPS lookups at once, over `distinct` keys, on a fresh resolver (every key a miss). */
  const measure = async (distinct: number): Promise<{ perSecond: number; requests: number; queries: number }> => {
    const { resolver, upstream } = testResolver(testConfig(backend.url, { upstream: { deadline_ms: 60_000 } }));
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: LOOKUPS }, (_, i) => resolver.lookup('bench', 'alias', entries[i % distinct]![0])));
    const ms = performance.now() - t0;
    if (answers.some((a) => a.kind !== 'found')) throw new Error('coalescing benchmark: a lookup failed');
    await resolver.close();
    return { perSecond: (LOOKUPS / ms) * 1000, requests: upstream.requests, queries: upstream.queries };
  };

  const shapes = [
    { label: `${LOOKUPS.toLocaleString('en-US')} lookups of 100 keys (100 callers each)`, distinct: 100 },
    { label: `${LOOKUPS.toLocaleString('en-US')} lookups of 1,000 keys (10 callers each)`, distinct: 1000 },
    { label: `${LOOKUPS.toLocaleString('en-US')} lookups of ${LOOKUPS.toLocaleString('en-US')} keys (nothing to coalesce)`, distinct: LOOKUPS },
  ];
  const results = shapes.map(() => ({ rates: [] as number[], requests: 0, queries: 0 }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, s] of shapes.entries()) {
      const m = await measure(s.distinct);
      results[i]!.rates.push(m.perSecond);
      results[i]!.requests = m.requests;
      results[i]!.queries = m.queries;
    }
  }
  const base = median(results[results.length - 1]!.rates);
  printTable(
    ['misses at once (local backend)', 'lookups/s', 'queries to the function', 'HTTP requests', 'ratio to no coalescing'],
    shapes.map((s, i) => [s.label, median(results[i]!.rates), results[i]!.queries, results[i]!.requests, ratio(median(results[i]!.rates), base)]),
  );
  await backend.close();
}
