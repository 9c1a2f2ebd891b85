/** Where an answer came from: the cache, the function just now, or a stale cache entry while the function failed. */
export type Source = 'cache' | 'upstream' | 'stale' | 'replica';

/**
 * What the resolver tells a front end. It never rejects and never turns a
 * failure into `not-found`: a failure is `error`, with `timeout` set when the
 * deadline passed (socketmap answers TIMEOUT, smtpd `error`).
 */
export type Answer =
  | { kind: 'found'; value: string; source: Source }
  | { kind: 'not-found'; source: Source }
  /**
   * `unknownTable`: the function has no such table and nothing of it is
   * cached: a temporary failure (socketmap answers it as an unknown map only
   * with `missing_table = "PERM"`).
   */
  | { kind: 'error'; reason: string; timeout: boolean; unknownTable?: true };
