// Per-table lookup counts by result, bounded in the number of tables.

import { SERVICES, type Service } from '../../common/contract/lookup.js';
import { LOOKUP_RESULTS, type LookupResult } from '../resolver/observer.js';

/** Series beyond this many tables are summed under OTHER_TABLES: a client naming random maps cannot grow memory. */
export const MAX_TABLE_LABELS = 256;
export const OTHER_TABLES = '(other)';

const RESULT_INDEX: Record<LookupResult, number> = { hit: 0, negative: 1, miss: 2, stale: 3, error: 4, timeout: 5 };
const SERVICE_INDEX = Object.fromEntries(SERVICES.map((s, i) => [s, i])) as Record<Service, number>;
const WIDTH = LOOKUP_RESULTS.length;

/**
 * Lookup counts by table, service and result, in one flat array per table:
 * the cache-hit path pays a Map lookup and an increment, and prom-client's
 * label hashing is paid only when the endpoint is scraped.
 */
export class LookupTally {
  private readonly tables = new Map<string, Float64Array>();

  count(table: string, service: Service, result: LookupResult): void {
    const row = this.tables.get(table) ?? this.add(table);
    row[SERVICE_INDEX[service] * WIDTH + RESULT_INDEX[result]]!++;
  }

  /** Every (table, service) that has been asked, with its count per result. */
  *rows(): Iterable<{ table: string; service: Service; counts: Record<LookupResult, number> }> {
    for (const [table, row] of this.tables) {
      for (const service of SERVICES) {
        const base = SERVICE_INDEX[service] * WIDTH;
        if (row.subarray(base, base + WIDTH).every((n) => n === 0)) continue;
        const counts = Object.fromEntries(LOOKUP_RESULTS.map((r) => [r, row[base + RESULT_INDEX[r]]!])) as Record<LookupResult, number>;
        yield { table, service, counts };
      }
    }
  }

  private add(table: string): Float64Array {
    // Past the bound, every new name shares one row (kept under OTHER_TABLES).
    const name = this.tables.size < MAX_TABLE_LABELS ? table : OTHER_TABLES;
    let row = this.tables.get(name);
    if (!row) {
      row = new Float64Array(SERVICES.length * WIDTH);
      this.tables.set(name, row);
    }
    return row;
  }
}
