// The one error of a signed JSON call to the function (lookups and admin
// alike). Its `code` says what failed, in words that stay stable: commands
// map them to exit codes, the resolver to its breaker and metrics, and the
// README documents them.

/**
 * - `credentials`: no credentials to sign with (the provider chain found none, or failed);
 * - `timeout`: no complete answer within the call's time limit;
 * - `aborted`: the caller gave up (its AbortSignal), e.g. another endpoint answered first;
 * - `network`: no HTTP answer (refused, reset, DNS, TLS…);
 * - `http-status`: a status other than 200 without the function's error code (a proxy, the Lambda front end…);
 * - `function-error`: a status other than 200 carrying the function's error code (`functionCode`: `unknown-table`, `busy`…);
 * - `bad-response`: a 200 answer that is too large, not JSON, or not the answer to the request sent.
 */
export const CALL_FAILURES = ['credentials', 'timeout', 'aborted', 'network', 'http-status', 'function-error', 'bad-response'] as const;
export type CallFailure = (typeof CALL_FAILURES)[number];

export class CallError extends Error {
  override name = 'CallError';
  constructor(
    readonly code: CallFailure,
    message: string,
    /** The HTTP status, when an answer came. */
    readonly status?: number,
    /** The function's own error code (`function-error` only). */
    readonly functionCode?: string,
  ) {
    super(message);
  }

  /** The function says the table does not exist: a configuration problem, not an outage. */
  get unknownTable(): boolean {
    return this.functionCode === 'unknown-table';
  }

  /** The function refuses this caller the table (per-table read access): nothing cached of it may stand in. */
  get accessDenied(): boolean {
    return this.functionCode === 'access-denied';
  }

  /** Says the function is unreachable or unwell, as opposed to refusing this one request. */
  get outage(): boolean {
    if (this.code !== 'http-status' && this.code !== 'function-error') return this.code !== 'aborted';
    const s = this.status ?? 0;
    return s >= 500 || s === 429 || s === 408;
  }
}

/** A `timeout` at the slow-call threshold (upstream/hedged.ts), well before the deadline: its reason says so. */
export class SlowCallError extends CallError {
  constructor(thresholdMs: number) {
    super('timeout', `no answer within the slow-call threshold (${thresholdMs} ms)`);
  }
}

/** Every endpoint is ejected (upstream/hedged.ts): the circuit opens at once (resolver/breaker.ts). */
export class AllEjectedError extends CallError {
  constructor() {
    super('network', 'every endpoint is ejected (failing or slow); probing');
  }
}
