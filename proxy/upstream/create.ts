// The reader client a proxy uses, from its configuration: one HttpUpstream
// per endpoint of `[[upstream.endpoints]]`, each signed for its own region,
// or `upstream.url` alone as the one endpoint, always behind the hedging,
// ejection and slow-call threshold of hedged.ts. With one endpoint a hedge
// goes to a second connection pool of the same endpoint: a stuck
// invocation holds its connection, and a hedge queued behind connections
// that are all stuck would be no hedge at all.

import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Config } from '../config.js';
import { RequestSigner } from '../http/signer.js';
import { HttpUpstream } from './client.js';
import { HedgedUpstream } from './hedged.js';

/** Slow-call threshold floor: a Lambda cold start (init plus the first DynamoDB connection) stays under it. */
export const SLOW_CALL_FLOOR_MS = 1000;
/**
 * How long an ejected endpoint is left alone before one call probes it:
 * short, because the circuit breaker (resolver/breaker.ts) already answers
 * at once while the only endpoint is out, and recovery must be seen within
 * a fraction of a second of the function's return.
 */
export const EJECT_MS = 250;

/** The endpoints of `upstream.endpoints` (else `upstream.url`) behind hedged.ts. */
export function createHedgedUpstream(config: Config, credentials?: AwsCredentialIdentityProvider): HedgedUpstream {
  const u = config.upstream;
  const endpoints = endpointsOf(config);
  const client = (url: string, region: string) => new HttpUpstream({ ...u, url }, new RequestSigner(region, credentials));
  return new HedgedUpstream(
    endpoints.map((e) => ({
      name: e.region,
      upstream: client(e.url, e.region),
      // Its own pool, opened only when a hedge needs it.
      ...(endpoints.length === 1 && { spare: client(e.url, e.region) }),
    })),
    {
      budget: u.hedgeBudgetPercent / 100,
      minDelayMs: u.hedgeMinMs,
      maxDelayMs: Math.min(u.hedgeMaxMs, Math.floor(u.deadlineMs / 4)),
      health: { failures: config.breaker.failures, ejectMs: EJECT_MS, slowCallMs: config.breaker.slowCallMs, slowCallFloorMs: SLOW_CALL_FLOOR_MS },
    },
  );
}

/** The endpoints the configuration names, home first: `upstream.endpoints`, else `upstream.url` alone. */
function endpointsOf(config: Config): Array<{ url: string; region: string }> {
  const u = config.upstream;
  if (u.endpoints.length === 0) return [{ url: u.url, region: u.region }];
  return u.endpoints.map((e) => ({ url: e.url, region: e.region ?? u.region }));
}

/**
 * The plain client of the home endpoint (the first of `upstream.endpoints`,
 * or `upstream.url`), for replica transfers, which need calls only the
 * HTTP client has (its pool opens at its first call).
 */
export function homeReader(config: Config, credentials?: AwsCredentialIdentityProvider): HttpUpstream {
  const home = endpointsOf(config)[0]!;
  return new HttpUpstream({ ...config.upstream, url: home.url }, new RequestSigner(home.region, credentials));
}
