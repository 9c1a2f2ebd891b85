// What the resolver reports as it works (lookups by result, requests to
// the function by outcome), for metrics and tests.

import type { Service } from '../../common/contract/lookup.js';
import type { CallFailure } from '../http/call-error.js';

/**
 * How one lookup was answered; every lookup is counted once, under one of:
 * `hit` (a fresh cached value), `negative` (a fresh cached not-found, or a
 * key no table can hold), `miss` (answered by the function), `stale` (an
 * expired value served because the function failed), `error`, `timeout`.
 */
export type LookupResult = 'hit' | 'negative' | 'miss' | 'stale' | 'error' | 'timeout';

export const LOOKUP_RESULTS: readonly LookupResult[] = ['hit', 'negative', 'miss', 'stale', 'error', 'timeout'];

/** How one HTTP request to the function ended. */
export type RequestOutcome = 'ok' | CallFailure;

/**
 * What the resolver reports as it works, for metrics. `answered` runs on the
 * cache-hit path: implementations keep it to a few array writes.
 */
export interface ResolverObserver {
  answered(table: string, service: Service, result: LookupResult): void;
  /** An HTTP request with `queries` keys went out (0: a generation-only probe). */
  requestSent(table: string, queries: number): void;
  requestDone(table: string, outcome: RequestOutcome, ms: number): void;
}

export const NO_OBSERVER: ResolverObserver = {
  answered() {},
  requestSent() {},
  requestDone() {},
};
