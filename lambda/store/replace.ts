import type { Store } from './store.js';

/**
 * Replaces a table in one step: writes a new generation, then swaps META
 * conditionally. Used to seed the local stack and tests; operators replace
 * tables through the transactional admin API, which adds validation, leases
 * and rollback on top of the same two store primitives.
 */
export async function replaceTable(
  store: Store,
  table: string,
  entries: Iterable<readonly [string, string]>,
  service?: string,
): Promise<number> {
  const current = await store.readMeta(table);
  const generation = (current?.generation ?? 0) + 1;
  const count = await store.writeEntries(table, generation, entries);
  await store.activate(table, generation, current?.generation, { ...(service !== undefined && { service }), count });
  return generation;
}
