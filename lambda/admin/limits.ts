// The admin function's transaction limits (lease, grace period, kept
// previous generation, most entries), read from its environment.

import { DEFAULT_TRANSACTION_LIMITS, type TransactionLimits } from '../store/transaction.js';

/**
 * Transaction limits from the admin function's environment (set by the
 * deployment): CLOUDTABLE_LEASE_S, CLOUDTABLE_GRACE_S,
 * CLOUDTABLE_KEEP_PREVIOUS_S, CLOUDTABLE_MAX_ENTRIES. Unset means the
 * default; a malformed value stops the function at start, loudly.
 */
export function limitsFromEnv(env: NodeJS.ProcessEnv): Partial<TransactionLimits> {
  const out: Partial<TransactionLimits> = {};
  const seconds = (name: string, min: number, max: number): number | undefined => {
    const n = number(env, name, min, max);
    return n === undefined ? undefined : n * 1000;
  };
  const lease = seconds('CLOUDTABLE_LEASE_S', 5, 3600);
  if (lease !== undefined) out.leaseMs = lease;
  const grace = seconds('CLOUDTABLE_GRACE_S', 1, 3600);
  if (grace !== undefined) out.graceMs = grace;
  const keep = seconds('CLOUDTABLE_KEEP_PREVIOUS_S', 0, 30 * 86400);
  if (keep !== undefined) out.keepPreviousMs = keep;
  const maxEntries = number(env, 'CLOUDTABLE_MAX_ENTRIES', 1, 100_000_000);
  if (maxEntries !== undefined) out.maxEntries = maxEntries;
  if (out.keepPreviousMs !== undefined && out.keepPreviousMs > 0 && out.keepPreviousMs < (out.graceMs ?? DEFAULT_TRANSACTION_LIMITS.graceMs)) {
    throw new Error('CLOUDTABLE_KEEP_PREVIOUS_S must be 0 or at least CLOUDTABLE_GRACE_S');
  }
  return out;
}

function number(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  return n;
}
