import type { Diff } from './meta.js';
import type { Store } from './store.js';

/**
 * Compares a shadow generation with the base one: what applying it would
 * add, remove and change, and how many entries it holds. The base is held
 * in memory (a Map of its values) and the shadow streamed against it, so the
 * comparison does not depend on the order DynamoDB returns keys in.
 */
export async function diffGenerations(
  store: Store,
  table: string,
  base: number | undefined,
  shadow: number,
): Promise<{ count: number; diff: Diff }> {
  const old = new Map<string, string>();
  if (base !== undefined) {
    for await (const page of store.generationPages(table, base)) for (const [k, v] of page) old.set(k, v);
  }
  let count = 0;
  let added = 0;
  let changed = 0;
  let kept = 0;
  for await (const page of store.generationPages(table, shadow)) {
    for (const [k, v] of page) {
      count++;
      const before = old.get(k);
      if (before === undefined) added++;
      else {
        kept++;
        if (before !== v) changed++;
      }
    }
  }
  return { count, diff: { added, removed: old.size - kept, changed } };
}
