// The reader client a proxy uses, from its configuration: `upstream.url`
// alone is the plain client (each call bounded by the deadline, as
// always); `[[upstream.endpoints]]` (one or several) is one HttpUpstream per
// endpoint, each signed for its own region, behind the hedging, ejection
// and slow-call threshold of hedged.ts.

import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Config } from '../config.js';
import { RequestSigner } from '../http/signer.js';
import { HttpUpstream } from './client.js';
import { HedgedUpstream } from './hedged.js';
import type { Upstream } from './client.js';

/** Slow-call threshold floor: a Lambda cold start (init plus the first DynamoDB connection) stays under it. */
export const SLOW_CALL_FLOOR_MS = 1000;
/**
 * How long an ejected endpoint is left alone before one call probes it:
 * short, because the circuit breaker (resolver/breaker.ts) already answers
 * at once while the only endpoint is out, and recovery must be seen within
 * a fraction of a second of the function's return.
 */
export const EJECT_MS = 250;

export function createUpstream(config: Config, credentials?: AwsCredentialIdentityProvider): Upstream {
  if (config.upstream.endpoints.length === 0) return new HttpUpstream(config.upstream, new RequestSigner(config.upstream.region, credentials));
  return createHedgedUpstream(config, credentials);
}

/** The endpoints of `upstream.endpoints` behind hedged.ts. */
export function createHedgedUpstream(config: Config, credentials?: AwsCredentialIdentityProvider): HedgedUpstream {
  const u = config.upstream;
  return new HedgedUpstream(
    u.endpoints.map((e) => {
      const region = e.region ?? u.region;
      return { name: region, upstream: new HttpUpstream({ ...u, url: e.url }, new RequestSigner(region, credentials)) };
    }),
    {
      budget: u.hedgeBudgetPercent / 100,
      minDelayMs: u.hedgeMinMs,
      maxDelayMs: Math.min(u.hedgeMaxMs, Math.floor(u.deadlineMs / 4)),
      health: { failures: config.breaker.failures, ejectMs: EJECT_MS, slowCallMs: config.breaker.slowCallMs, slowCallFloorMs: SLOW_CALL_FLOOR_MS },
    },
  );
}

/**
 * The plain client of the home endpoint (the first of `upstream.endpoints`,
 * or `upstream.url`), for replica transfers, which need calls only the
 * HTTP client has; `upstream` itself when it is that client.
 */
export function homeReader(config: Config, upstream: Upstream, credentials?: AwsCredentialIdentityProvider): HttpUpstream {
  if (upstream instanceof HttpUpstream) return upstream;
  const home = config.upstream.endpoints[0]!;
  return new HttpUpstream({ ...config.upstream, url: home.url }, new RequestSigner(home.region ?? config.upstream.region, credentials));
}
