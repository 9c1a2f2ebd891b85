// A resolver on the real HTTP client for tests, counting the requests it sends.

import type { GenerationsResponse, ListResponse, LookupQuery, LookupResponse } from '../../common/contract/lookup.js';
import type { Clock } from '../../proxy/clock.js';
import { buildConfig, type Config } from '../../proxy/config.js';
import { silentLogger } from '../../proxy/log.js';
import type { ResolverObserver } from '../../proxy/resolver/observer.js';
import { Resolver } from '../../proxy/resolver/resolver.js';
import { HttpUpstream, type Listing, type Upstream } from '../../proxy/upstream/client.js';
import { RequestSigner } from '../../proxy/http/signer.js';
import { TEST_CREDENTIALS } from './backend.js';

/** The real HTTP upstream, observed: counts HTTP requests and queries as they go out. */
export class CountingUpstream implements Upstream {
  requests = 0;
  queries = 0;
  readonly batchSizes: number[] = [];
  /** The tables of each generations request, as handed to the HTTP client. */
  readonly generationChecks: string[][] = [];
  /** performance.now() when each lookup request was handed to the HTTP client. */
  readonly sentAt: number[] = [];

  constructor(private readonly inner: Upstream) {}

  lookup(table: string, queries: LookupQuery[], timeoutMs: number): Promise<LookupResponse> {
    this.requests++;
    this.queries += queries.length;
    this.batchSizes.push(queries.length);
    this.sentAt.push(performance.now());
    return this.inner.lookup(table, queries, timeoutMs);
  }

  list(what: Listing, table: string, after: string | undefined, timeoutMs: number): Promise<ListResponse> {
    this.requests++;
    return this.inner.list(what, table, after, timeoutMs);
  }

  generations(tables: string[], timeoutMs: number): Promise<GenerationsResponse> {
    this.requests++;
    this.generationChecks.push(tables);
    if (!this.inner.generations) return Promise.reject(new Error('the inner upstream has no generations request'));
    return this.inner.generations(tables, timeoutMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A configuration from the same snake_case keys as a file, pointed at `url`. */
export function testConfig(url: string, raw: Record<string, Record<string, unknown>> = {}): Config {
  return buildConfig({ ...raw, upstream: { url, ...raw.upstream } });
}

/** A resolver on the real HTTP client with static test credentials. */
export function testResolver(config: Config, observer?: ResolverObserver, clock?: Clock): { resolver: Resolver; upstream: CountingUpstream } {
  const signer = new RequestSigner(config.upstream.region, async () => TEST_CREDENTIALS);
  const upstream = new CountingUpstream(new HttpUpstream(config.upstream, signer));
  return { resolver: new Resolver(config, upstream, silentLogger, observer, clock), upstream };
}

export { sleep } from './wait.js';

/**
 * The real upstream, with a gate: `holdNext()` keeps the next lookup from
 * being sent until released, so a test can make answers arrive in another
 * order than their requests were made.
 */
export class GatedUpstream implements Upstream {
  private gate: Promise<void> | undefined;

  constructor(private readonly inner: Upstream) {}

  holdNext(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return release;
  }

  async lookup(table: string, queries: LookupQuery[], timeoutMs: number): Promise<LookupResponse> {
    const gate = this.gate;
    this.gate = undefined;
    if (gate) await gate;
    return this.inner.lookup(table, queries, timeoutMs);
  }

  list(what: Listing, table: string, after: string | undefined, timeoutMs: number): Promise<ListResponse> {
    return this.inner.list(what, table, after, timeoutMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
