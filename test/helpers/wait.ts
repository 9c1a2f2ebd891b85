// The one "poll until" loop of the tests: waits for a condition instead of
// sleeping for a time that stands in for it.

/** Resolves after `ms` (only where the time itself is the subject, never as a stand-in for a condition). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Gives up (rejects) after this long; default 10 s. */
  timeoutMs?: number;
  /** Between two checks; default 20 ms. */
  everyMs?: number;
  /** Named in the error when it times out (a function: computed then, e.g. with the output so far). */
  what?: string | (() => string);
}

/**
 * Checks `cond` until it returns a value other than `undefined`/`false`,
 * and resolves with it; rejects after `timeoutMs` with the last value seen.
 */
export async function waitUntil<T>(cond: () => T | false | undefined | Promise<T | false | undefined>, o: WaitOptions = {}): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof o.what === 'function' ? o.what() : (o.what ?? 'a condition')}`);
    await sleep(o.everyMs ?? 20);
  }
}
