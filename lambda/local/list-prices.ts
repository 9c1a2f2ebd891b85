// AWS list prices of what the cloud functions are billed for, and what a
// tally of invocations, billed duration and request units costs at them.
// One place for the figures the local backend's billing counts, the cost
// benchmark and the README's cost section state.

import { FUNCTION_MEMORY_MB, type FunctionName } from '../../common/function-sizes.js';

/** US East (N. Virginia), on-demand, arm64, before the free tier. */
export const LIST_PRICES = {
  region: 'us-east-1',
  /** Lambda, per request (Function URL invocations included; the URL itself costs nothing more). */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda duration on arm64, per GB-second of configured memory. */
  lambdaGbSecond: 0.0000133334,
  /** DynamoDB on-demand, per read request unit (a strongly consistent read of up to 4 KB, or two eventually consistent). */
  readUnit: 0.125 / 1e6,
  /** DynamoDB on-demand, per write request unit (a write of up to 1 KB). */
  writeUnit: 0.625 / 1e6,
} as const;

/** What one function was billed for over some span. */
export interface Usage {
  invocations: number;
  /** Duration as Lambda bills it: each invocation rounded up to the next millisecond. */
  billedMs: number;
  readUnits: number;
  writeUnits: number;
}

export interface Dollars {
  requests: number;
  duration: number;
  reads: number;
  writes: number;
  total: number;
}

/** Dollars for a function's usage at list prices, its duration priced at the memory it is deployed with. */
export function dollars(fn: FunctionName, u: Usage): Dollars {
  const requests = u.invocations * LIST_PRICES.lambdaRequest;
  const duration = (u.billedMs / 1000) * (FUNCTION_MEMORY_MB[fn] / 1024) * LIST_PRICES.lambdaGbSecond;
  const reads = u.readUnits * LIST_PRICES.readUnit;
  const writes = u.writeUnits * LIST_PRICES.writeUnit;
  return { requests, duration, reads, writes, total: requests + duration + reads + writes };
}

/** Lambda bills each invocation's duration rounded up to the next millisecond (at least 1 ms). */
export function billedMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
