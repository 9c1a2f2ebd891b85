// Deletes generations nobody can read any more. Each one to delete has a
// garbage item due after a grace period longer than any lookup (a lookup
// that read META just before a swap still reads the old generation), or,
// for the previous generation kept for `cloudtable rollback`, when that
// keeping ends. Before deleting, the collector re-reads META: a generation
// that is active again, or still kept, or part of a transaction, is spared,
// and so is one the META of another region's replica still names (a region
// lagging longer than the grace period: replicas.ts).

import { isLive } from './meta.js';
import { replicaStillNaming, type Replica } from './replicas.js';
import { isConditionFailure, type GarbageItem, type Store } from './store.js';

export interface SweepResult {
  /** Generations deleted completely in this sweep. */
  generations: number;
  /** Entries deleted in this sweep. */
  entries: number;
  /** Garbage items left due (the time budget ran out). */
  remaining: boolean;
}

export class GarbageCollector {
  constructor(
    private readonly store: Store,
    private readonly graceMs: number,
    private readonly replicas: readonly Replica[] = [],
  ) {}

  /** Deletes what is due, for at most `budgetMs` of wall-clock time. */
  async sweep(budgetMs: number): Promise<SweepResult> {
    const deadline = Date.now() + budgetMs;
    const result: SweepResult = { generations: 0, entries: 0, remaining: false };
    const seen = new Set<string>();
    for (;;) {
      const due = (await this.store.dueGarbage(this.store.clock())).filter((g) => !seen.has(g.sk));
      if (due.length === 0) return result;
      for (const g of due) {
        seen.add(g.sk);
        if (Date.now() >= deadline) return { ...result, remaining: true };
        const outcome = await this.collect(g, deadline);
        result.entries += outcome.entries;
        if (outcome.deleted) result.generations++;
        if (!outcome.done) return { ...result, remaining: true };
      }
    }
  }

  private async collect(g: GarbageItem, deadline: number): Promise<{ done: boolean; deleted: boolean; entries: number }> {
    const now = this.store.clock();
    const meta = await this.store.readMetaRecord(g.table);
    const t = meta?.txn;
    if (meta?.generation === g.generation) {
      // Active again (a rollback, or a crash before the swap it was scheduled for).
      await this.store.removeGarbage(g.sk);
      return { done: true, deleted: false, entries: 0 };
    }
    if (t && (t.shadow === g.generation || t.base === g.generation) && isLive(t, now)) {
      await this.reschedule(g, now + this.graceMs);
      return { done: true, deleted: false, entries: 0 };
    }
    if (meta?.previous?.generation === g.generation) {
      if (meta.previous.until > now) {
        await this.reschedule(g, meta.previous.until);
        return { done: true, deleted: false, entries: 0 };
      }
      // Kept long enough: stop offering it to `cloudtable rollback`, then delete it.
      try {
        await this.store.updateMeta(g.table, {
          update: 'REMOVE #prev, #prevUntil, #prevCount, #prevService',
          condition: '#prev = :gen AND #prevUntil <= :now',
          values: { gen: g.generation, now },
        });
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        // Changed meanwhile: look again later.
        await this.reschedule(g, now + this.graceMs);
        return { done: true, deleted: false, entries: 0 };
      }
    }
    if ((await replicaStillNaming(this.replicas, g.table, g.generation)) !== undefined) {
      await this.reschedule(g, now + this.graceMs);
      return { done: true, deleted: false, entries: 0 };
    }
    const { deleted, done } = await this.store.deleteGeneration(g.table, g.generation, deadline);
    if (done) await this.store.removeGarbage(g.sk);
    return { done, deleted: done, entries: deleted };
  }

  private async reschedule(g: GarbageItem, dueMs: number): Promise<void> {
    await this.store.scheduleGarbage(g.table, g.generation, dueMs);
    await this.store.removeGarbage(g.sk);
  }
}
