// Whole-table replacement in one call (tests, the demo), through the same
// transaction as the admin API.

import type { Store } from './store.js';
import { Transactions } from './transaction.js';

/**
 * Replaces a table in one call, through the same transaction as the admin
 * API (begin, send, validate, apply, commit) but without the per-service
 * value checks: tests use it to store values a real load would refuse, to
 * see what the proxy makes of them. Returns the new active generation.
 */
export async function replaceTable(
  store: Store,
  table: string,
  entries: Iterable<readonly [string, string]>,
  service?: string,
): Promise<number> {
  const transactions = new Transactions(store);
  const current = await store.readMetaRecord(table);
  const begun = await transactions.begin(table, { service: service ?? current?.service ?? 'string', owner: 'replaceTable' });
  try {
    const all = [...entries];
    await transactions.send(table, begun.txn, () => ({ accepted: all, rejected: [] }));
    const validation = await transactions.validate(table, begun.txn, all.length);
    if (!validation.ok) throw new Error(`replaceTable ${table}: ${validation.problem ?? 'validation failed'}`);
    await transactions.apply(table, begun.txn);
    await transactions.commit(table, begun.txn);
    return begun.shadow;
  } catch (err) {
    await transactions.rollback(table, begun.txn).catch(() => {});
    throw err;
  }
}
