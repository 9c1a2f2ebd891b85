// The reader function behind several endpoints (one per region), or one:
// each call goes to the healthy endpoint with the best recent latency; if
// it has not answered after the hedge delay (that endpoint's recent 95th
// percentile, between a floor and a cap well below the deadline), the same
// call goes to the next endpoint — or, with one endpoint, again to the same
// one, on another connection (a single stuck invocation is the common
// case) — and the first good answer wins; the others are aborted. Hedges
// draw on a budget (a share of calls) so a slow cloud is not asked twice
// as hard. A call that fails goes on at once to an endpoint not yet tried.
// A call still unanswered at its endpoint's slow-call threshold counts as a
// failure there (enough of them eject it), and once every call in flight is
// slow and no endpoint is left to try, the caller is answered with an error
// then and there instead of at the deadline: smtpd waits for each answer
// with all its sessions.
// Which of two answers is newer is not decided here: every answer carries
// its generation and epoch, and the resolver's generation rules
// (resolver/generation.ts) never let a lagging region's answer move a table
// back.

import type { GenerationsResponse, LookupQuery, LookupResponse, ListResponse } from '../../common/contract/lookup.js';
import { AllEjectedError, CallError, SlowCallError } from '../http/call-error.js';
import { EndpointHealth, type HealthOptions } from './endpoint-health.js';
import type { Listing, Upstream } from './client.js';

export interface HedgeOptions {
  /** Hedges at most this share of calls in steady state (0.05: 5 %). */
  budget: number;
  minDelayMs: number;
  maxDelayMs: number;
  health: HealthOptions;
}

export interface HedgedEndpoint {
  /** For logs and metrics: the region, or the URL. */
  name: string;
  upstream: EndpointClient;
  /** With a single endpoint: another connection pool to it, for hedges (all of the first pool's connections may be stuck). */
  spare?: EndpointClient;
}

/** A client of one endpoint (client.ts's HttpUpstream). */
export type EndpointClient = Upstream &
  Required<Pick<Upstream, 'generations'>> & {
    /** Resolves once a call can be sent at once: what the first call loads (HTTP library, signer) is loaded. */
    ready(): Promise<void>;
  };

/** One endpoint as the metrics show it. */
export interface EndpointView {
  name: string;
  latencyMs: number;
  ejected: boolean;
  ejections: number;
  slowCalls: number;
}

/** What the hedging did, for tests and metrics. */
export interface HedgeStats {
  calls: number;
  /** Extra calls started because the first was slow. */
  hedges: number;
  /** Hedges whose answer was the one returned. */
  hedgesWon: number;
  /** Calls started because another endpoint had failed. */
  failovers: number;
  /** Hedges the budget refused. */
  denied: number;
  /** Calls also sent to an endpoint whose latency estimate was old (failback). */
  refreshes: number;
}

/** Hedges (and refreshes) a burst may use at once, over the budget's share. */
export const BUDGET_BURST = 5;

export class HedgedUpstream implements Upstream {
  private readonly health: EndpointHealth[];
  private tokens = BUDGET_BURST;
  readonly stats: HedgeStats = { calls: 0, hedges: 0, hedgesWon: 0, failovers: 0, denied: 0, refreshes: 0 };

  constructor(
    private readonly endpoints: HedgedEndpoint[],
    private readonly options: HedgeOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (endpoints.length === 0) throw new Error('no endpoint');
    this.health = endpoints.map(() => new EndpointHealth(options.health));
  }

  /** Per endpoint: name, latency estimate, whether it is ejected, and its ejections and slow calls so far. */
  describe(): EndpointView[] {
    return this.endpoints.map((e, i) => {
      const h = this.health[i]!;
      return { name: e.name, latencyMs: h.latencyMs, ejected: h.ejected, ejections: h.ejections, slowCalls: h.slowCalls };
    });
  }

  lookup(table: string, queries: LookupQuery[], timeoutMs: number, signal?: AbortSignal): Promise<LookupResponse> {
    return this.call((u, t, s) => u.lookup(table, queries, t, s), timeoutMs, signal);
  }

  list(what: Listing, table: string, after: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ListResponse> {
    return this.call((u, t, s) => u.list(what, table, after, t, s), timeoutMs, signal);
  }

  generations(tables: string[], timeoutMs: number, signal?: AbortSignal): Promise<GenerationsResponse> {
    return this.call((u, t, s) => u.generations(tables, t, s), timeoutMs, signal);
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.flatMap((e) => [e.upstream.close(), e.spare?.close()]));
  }

  /** Endpoints to try, best first: available ones by latency (home first on a tie). */
  private order(now: number): number[] {
    const ids = this.endpoints.map((_, i) => i).filter((i) => this.health[i]!.available(now));
    return ids.sort((a, b) => this.health[a]!.latencyMs - this.health[b]!.latencyMs || a - b);
  }

  /**
   * One and a half times the endpoint's recent 95th percentile, within the
   * floor and the cap: hedging right at the 95th percentile would spend the
   * whole 5 % budget on ordinary variance and leave none for a stuck call.
   */
  private hedgeDelay(i: number): number {
    const p95 = this.health[i]!.p95();
    const delay = p95 === undefined ? this.options.maxDelayMs : 1.5 * p95;
    return Math.min(this.options.maxDelayMs, Math.max(this.options.minDelayMs, delay));
  }

  private call<T>(run: (u: EndpointClient, timeoutMs: number, signal: AbortSignal) => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const start = this.now();
    const order = this.order(start);
    this.stats.calls++;
    this.tokens = Math.min(BUDGET_BURST, this.tokens + this.options.budget);
    if (order.length === 0) {
      // Every endpoint is out: fail at once rather than wait a deadline; the resolver's breaker takes it from here.
      return Promise.reject(new AllEjectedError());
    }
    return new Promise<T>((resolve, reject) => {
      const attempts = new Set<AbortController>();
      const slowAttempts = new Set<AbortController>();
      const tried = new Set<number>();
      let settled = false;
      let lastError: unknown;
      let hedgeTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        settled = true;
        if (hedgeTimer) clearTimeout(hedgeTimer);
        for (const c of attempts) c.abort();
        attempts.clear();
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        if (settled) return;
        finish();
        reject(new CallError('aborted', 'the caller gave up'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      /**
       * `detached`: a refresh, left to finish after another answer wins, so its latency is measured for real.
       * `hedge`: started because the first was slow; `again`: to an endpoint already asked (the only one), through its spare pool.
       */
      const launch = (i: number, detached = false, hedge = false, again = false): void => {
        const remaining = timeoutMs - (this.now() - start);
        if (remaining <= 0) return;
        tried.add(i);
        const health = this.health[i]!;
        health.started(this.now());
        const controller = new AbortController();
        if (!detached) attempts.add(controller);
        const launchedAt = this.now();
        let slow = false;
        let over = false;
        let slowTimer: NodeJS.Timeout | undefined;
        const onSlow = (): void => {
          slow = true;
          health.slow(this.now());
          if (detached) return;
          slowAttempts.add(controller);
          if (settled || slowAttempts.size < attempts.size) return;
          // Every call in flight is slow: another endpoint, else give up now rather than at the deadline.
          const next = this.order(this.now()).find((j) => !tried.has(j));
          if (next !== undefined) {
            this.stats.failovers++;
            launch(next);
            return;
          }
          finish();
          reject(new SlowCallError(health.slowCallMs()));
        };
        const endpoint = this.endpoints[i]!;
        const client = (again && endpoint.spare) || endpoint.upstream;
        // The threshold is the endpoint's: it counts once the proxy can send (its own first call loads the HTTP library and the signer).
        client.ready().then(
          () => {
            if (over) return;
            slowTimer = setTimeout(onSlow, health.slowCallMs());
            slowTimer.unref();
          },
          () => undefined,
        );
        const stop = (): void => {
          over = true;
          clearTimeout(slowTimer);
        };
        run(client, remaining, controller.signal).then(
          (value) => {
            stop();
            attempts.delete(controller);
            slowAttempts.delete(controller);
            if (!slow) health.succeeded(this.now() - launchedAt, this.now());
            if (settled) return;
            if (hedge) this.stats.hedgesWon++;
            finish();
            resolve(value);
          },
          (err: unknown) => {
            stop();
            attempts.delete(controller);
            slowAttempts.delete(controller);
            if (detached) {
              if (!slow && (!(err instanceof CallError) || err.outage)) health.failed(this.now());
              else if (!slow) health.succeeded(this.now() - launchedAt, this.now());
              return;
            }
            if (settled || (err instanceof CallError && err.code === 'aborted')) {
              if (!slow) health.lost(this.now() - launchedAt, this.now());
              return;
            }
            const outage = !(err instanceof CallError) || err.outage;
            // A refusal (an unknown table, a bad request) is an answer: the endpoint is up, and so is a probe of it.
            if (slow) {
              // Already counted as a failure at the threshold.
            } else if (outage) health.failed(this.now());
            else health.succeeded(this.now() - launchedAt, this.now());
            lastError = err;
            // Not an outage (the function refused the request itself): another endpoint would say the same.
            const next = outage ? this.order(this.now()).find((j) => !tried.has(j)) : undefined;
            if (next !== undefined) {
              this.stats.failovers++;
              launch(next);
            }
            if (attempts.size === 0 || (attempts.size === slowAttempts.size && next === undefined)) {
              finish();
              reject(lastError);
            }
          },
        );
      };

      const first = order[0]!;
      launch(first);
      // An ejected endpoint whose time is up gets the same call now, outside
      // the budget: its failures left its estimate behind the others', so
      // only a probe can bring it back, and a budget spent on hedges during
      // the outage (or a budget of 0) must not keep it out. One probe per
      // ejection period at most: a failed probe ejects it again.
      const probe = order.find((j) => j !== first && this.health[j]!.probeDue(start));
      if (probe !== undefined) {
        this.stats.refreshes++;
        launch(probe, true);
      } else {
        // Another endpoint whose estimate is old gets the same call now, within the budget
        // (or outside it, rarely, once overdue): that is how an endpoint that got faster is found again.
        for (const j of order) {
          const due = j === first ? undefined : this.health[j]!.refreshDue(start, this.tokens >= 1);
          if (due === undefined) continue;
          if (due === 'budget') this.tokens -= 1;
          this.health[j]!.refreshing(start);
          this.stats.refreshes++;
          launch(j, true);
          break;
        }
      }
      const hedge = (): void => {
        if (settled) return;
        if (this.tokens < 1) {
          this.stats.denied++;
          return;
        }
        // The next endpoint, or, with one, the same one again on another
        // connection — unless that one is failing: a hedge is not a retry.
        const target = this.order(this.now()).find((j) => !tried.has(j)) ?? first;
        if (this.health[target]!.failing) return;
        this.tokens -= 1;
        this.stats.hedges++;
        launch(target, false, true, tried.has(target));
      };
      // Like the slow-call clock, the hedge delay counts once the first call can be sent:
      // a process's first call, loading the HTTP library and the signer, is not hedged for that.
      if (this.options.budget > 0) {
        this.endpoints[first]!.upstream.ready().then(
          () => {
            if (settled) return;
            hedgeTimer = setTimeout(hedge, this.hedgeDelay(first));
            hedgeTimer.unref();
          },
          () => undefined,
        );
      }
    });
  }
}
