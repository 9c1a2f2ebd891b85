// The reader client a proxy uses, from its configuration: one HttpUpstream
// per endpoint (`upstream.endpoints`, or `upstream.url` alone), each signed
// for its own region, behind the hedging and ejection of hedged.ts.

import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Config } from '../config.js';
import { RequestSigner } from '../http/signer.js';
import { HttpUpstream } from './client.js';
import { HedgedUpstream } from './hedged.js';

/** Slow-call threshold floor: a Lambda cold start (init plus the first DynamoDB connection) stays under it. */
export const SLOW_CALL_FLOOR_MS = 1000;
/** How long an ejected endpoint is left alone before one call probes it. */
export const EJECT_MS = 1000;

export function createUpstream(config: Config, credentials?: AwsCredentialIdentityProvider): HedgedUpstream {
  const u = config.upstream;
  const list = u.endpoints.length > 0 ? u.endpoints : [{ url: u.url, region: u.region }];
  return new HedgedUpstream(
    list.map((e) => {
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
