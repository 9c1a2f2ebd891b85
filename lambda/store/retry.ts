// Retries with capped exponential backoff and jitter, for DynamoDB
// throttling and unprocessed batch items.

export interface BackoffOptions {
  /** Attempts in all, the first one included. */
  attempts: number;
  baseMs: number;
  capMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 6, baseMs: 20, capMs: 400 };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** "Full jitter" (AWS architecture blog): spreads retries of throttled callers apart. */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** attempt);
  return Math.floor((o.random ?? Math.random)() * ceiling);
}
