// What a transaction changes: the shadow generation compared with the base
// one, its digest (common/contract/digest.ts), and, when the change is small
// enough to be worth it, the change itself, kept as the generation's change
// log so replicas can transfer only the difference.

import { GenerationDigest } from '../../common/contract/digest.js';
import type { Diff } from './meta.js';
import type { Store } from './store.js';

/** One entry of a change log: the value after (absent: removed) and before (absent: added). */
export interface Change {
  key: string;
  value?: string;
  old?: string;
}

export interface Comparison {
  count: number;
  digest: string;
  diff: Diff;
  /** Every change, or undefined when there were more than the limit (or no base to compare with). */
  changes: Change[] | undefined;
}

/**
 * Compares a shadow generation with the base one: what applying it would
 * add, remove and change, how many entries it holds and their digest. The
 * base is held in memory (a Map of its values) and the shadow streamed
 * against it, so the comparison does not depend on the order DynamoDB
 * returns keys in. At most `maxChanges` changes are collected: a bigger
 * change is cheaper to transfer whole.
 */
export async function diffGenerations(store: Store, table: string, base: number | undefined, shadow: number, maxChanges = 0): Promise<Comparison> {
  const old = new Map<string, string>();
  if (base !== undefined) {
    for await (const page of store.generationPages(table, base)) for (const [k, v] of page) old.set(k, v);
  }
  const digest = new GenerationDigest();
  let changes: Change[] | undefined = base !== undefined ? [] : undefined;
  const note = (c: Change): void => {
    if (!changes) return;
    if (changes.length >= maxChanges) changes = undefined;
    else changes.push(c);
  };
  let added = 0;
  let changed = 0;
  for await (const page of store.generationPages(table, shadow)) {
    for (const [k, v] of page) {
      digest.add(k, v);
      const before = old.get(k);
      if (before === undefined) {
        added++;
        note({ key: k, value: v });
      } else {
        old.delete(k);
        if (before !== v) {
          changed++;
          note({ key: k, value: v, old: before });
        }
      }
    }
  }
  // What is left of the base is what the shadow no longer has.
  for (const [k, v] of old) note({ key: k, old: v });
  return { count: digest.count, digest: digest.hex(), diff: { added, removed: old.size, changed }, changes };
}
