// The guard against emptying a table by accident: an empty file, a
// comments-only file or an empty stdin would otherwise replace a table of
// 20,000 entries with none, and every lookup would become "not found". A
// load that removes more than the operator allows is refused after
// validation (nothing changed), the same in a dry run.

export interface ShrinkPolicy {
  /** --allow-shrink: no refusal. */
  allow: boolean;
  /** Refuse a load removing more than this share (percent) of the table's entries; undefined: only an empty result is refused. */
  maxRemovePercent: number | undefined;
}

/** Above this share removed, a load that goes ahead is warned about. */
export const WARN_REMOVE_PERCENT = 50;

export const DEFAULT_SHRINK: ShrinkPolicy = { allow: false, maxRemovePercent: undefined };

export interface ShrinkVerdict {
  refusal?: string;
  warning?: string;
}

/** What to say about replacing `before` entries with `after`, `removed` of the old keys going away. */
export function shrinkVerdict(policy: ShrinkPolicy, before: number, after: number, removed: number): ShrinkVerdict {
  if (before === 0 || removed === 0) return {};
  const percent = (removed / before) * 100;
  const shown = `${removed} of ${before} entries (${percent < 1 ? percent.toFixed(2) : Math.round(percent)} %)`;
  if (!policy.allow) {
    if (after === 0) return { refusal: `the load would empty the table (removes all ${before} entries); --allow-shrink loads it anyway` };
    if (policy.maxRemovePercent !== undefined && percent > policy.maxRemovePercent) {
      return { refusal: `the load would remove ${shown}, more than --max-remove ${policy.maxRemovePercent} %; --allow-shrink loads it anyway` };
    }
  }
  return percent > WARN_REMOVE_PERCENT ? { warning: `the load removes ${shown}` } : {};
}
