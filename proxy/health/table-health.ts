// The health check a monitoring system (or `postmap -q TABLE
// socketmap:…:HEALTHMAP`) asks the socketmap server: is TABLE answered by
// the function, end to end, right now? One generation-only request through
// the resolver (so a failure counts towards the circuit breaker like any
// other), at most one a second per table however often it is asked, and
// never a verdict naming a generation the proxy has moved away from.

import { LRUCache } from 'lru-cache';
import type { Answer } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import { withDeadline } from '../resolver/with-deadline.js';

/** A verdict is reused this long: health checks cannot become a load on the function. */
const REUSE_MS = 1000;
/** Tables whose verdict is kept. */
const MAX_TABLES = 256;

/** A verdict, with the generation it named (a failure names none). */
interface Verdict {
  answer: Answer;
  generation?: number;
}

export class TableHealth {
  private readonly verdicts: LRUCache<string, Verdict>;

  constructor(
    private readonly resolver: Resolver,
    deadlineMs: number,
  ) {
    this.verdicts = new LRUCache<string, Verdict>({
      max: MAX_TABLES,
      ttl: REUSE_MS,
      perf: { now: () => resolver.clock.monotonic() },
      // Concurrent checks of one table share one request (lru-cache coalesces fetches).
      fetchMethod: (table) => this.ask(table, deadlineMs),
    });
  }

  /** `found` with the table's generation and the time the function took, or the failure. Never rejects. */
  async check(table: string): Promise<Answer> {
    let v = await this.verdicts.fetch(table);
    if (v?.generation !== undefined && !this.resolver.serves(table, v.generation)) {
      // The proxy has moved to another generation since: a verdict naming the old one is not reused.
      this.verdicts.delete(table);
      v = await this.verdicts.fetch(table);
    }
    return v?.answer ?? { kind: 'error', reason: 'health check failed', timeout: false };
  }

  private async ask(table: string, deadlineMs: number): Promise<Verdict> {
    const named: { generation?: number } = {};
    const answer = await withDeadline(this.generationOf(table, named), deadlineMs);
    return answer.kind === 'found' ? { answer, ...named } : { answer };
  }

  private async generationOf(table: string, named: { generation?: number }): Promise<Answer> {
    const started = performance.now();
    try {
      const generation = await this.resolver.checkGeneration(table);
      named.generation = generation;
      const ms = Math.round(performance.now() - started);
      return { kind: 'found', value: `table ${table} generation ${generation}, answered in ${ms} ms`, source: 'upstream' };
    } catch (err) {
      return { kind: 'error', reason: err instanceof Error ? err.message : String(err), timeout: false };
    }
  }
}
