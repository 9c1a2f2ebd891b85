// The health check a monitoring system (or `postmap -q TABLE
// socketmap:…:HEALTHMAP`) asks the socketmap server: is TABLE answered by
// the function, end to end, right now? One generation-only request through
// the resolver (so a failure counts towards the circuit breaker like any
// other), at most one a second per table however often it is asked.

import { LRUCache } from 'lru-cache';
import type { Answer } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import { withDeadline } from '../tables/pattern-table.js';

/** A verdict is reused this long: health checks cannot become a load on the function. */
const REUSE_MS = 1000;
/** Tables whose verdict is kept. */
const MAX_TABLES = 256;

export class TableHealth {
  private readonly verdicts: LRUCache<string, Answer>;

  constructor(
    private readonly resolver: Resolver,
    deadlineMs: number,
  ) {
    this.verdicts = new LRUCache<string, Answer>({
      max: MAX_TABLES,
      ttl: REUSE_MS,
      // Concurrent checks of one table share one request (lru-cache coalesces fetches).
      fetchMethod: (table) => withDeadline(this.ask(table), deadlineMs),
    });
  }

  /** `found` with the table's generation and the time the function took, or the failure. Never rejects. */
  async check(table: string): Promise<Answer> {
    return (await this.verdicts.fetch(table)) ?? { kind: 'error', reason: 'health check failed', timeout: false };
  }

  private async ask(table: string): Promise<Answer> {
    const started = performance.now();
    try {
      const generation = await this.resolver.checkGeneration(table);
      const ms = Math.round(performance.now() - started);
      return { kind: 'found', value: `table ${table} generation ${generation}, answered in ${ms} ms`, source: 'upstream' };
    } catch (err) {
      return { kind: 'error', reason: err instanceof Error ? err.message : String(err), timeout: false };
    }
  }
}
