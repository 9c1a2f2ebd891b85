// The hedging client's part of the proxy's Prometheus metrics: hedges sent,
// won and refused by the budget, failovers, and per endpoint its ejections,
// slow calls (unanswered at the slow-call threshold), whether it is ejected
// now and its latency estimate. Read from the client (upstream/hedged.ts)
// when scraped; totals of a client a reload replaced are carried over, so
// the counters never go back.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { EndpointView, HedgeStats } from '../upstream/hedged.js';

export const HEDGE_PREFIX = 'cloudtable_upstream_';

/** What the metrics read of the client. */
export interface HedgeSource {
  readonly stats: HedgeStats;
  describe(): EndpointView[];
}

type Totals = { hedges: number; hedgesWon: number; denied: number; failovers: number; ejections: Map<string, number>; slowCalls: Map<string, number> };

export class HedgeMetrics {
  private source: HedgeSource | undefined;
  private readonly carried: Totals = { hedges: 0, hedgesWon: 0, denied: 0, failovers: 0, ejections: new Map(), slowCalls: new Map() };

  constructor(registry: Registry) {
    const registers = [registry];
    const self = this;
    new Counter({
      name: `${HEDGE_PREFIX}hedges_total`,
      help: 'Hedged requests: sent (the first was slower than the hedge delay), won (the hedge answered first), refused (by the hedge budget)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const t = self.totals();
        this.inc({ result: 'sent' }, t.hedges);
        this.inc({ result: 'won' }, t.hedgesWon);
        this.inc({ result: 'refused' }, t.denied);
      },
    });
    new Counter({
      name: `${HEDGE_PREFIX}failovers_total`,
      help: 'Requests sent to another endpoint because one failed or was slow',
      registers,
      collect() {
        this.reset();
        this.inc(self.totals().failovers);
      },
    });
    const perEndpoint = (name: string, help: string, pick: (t: Totals) => Map<string, number>): void => {
      new Counter({
        name: `${HEDGE_PREFIX}${name}`,
        help,
        labelNames: ['endpoint'],
        registers,
        collect() {
          this.reset();
          for (const [endpoint, n] of pick(self.totals())) this.inc({ endpoint }, n);
        },
      });
    };
    perEndpoint('ejections_total', 'Times an endpoint was taken out of service (consecutive failures or slow calls; a failed probe prolongs it)', (t) => t.ejections);
    perEndpoint('slow_calls_total', "Requests still unanswered at their endpoint's slow-call threshold (breaker.slow_call_ms), counted as failures", (t) => t.slowCalls);
    new Gauge({
      name: `${HEDGE_PREFIX}endpoint_ejected`,
      help: '1 while an endpoint is ejected (calls go elsewhere, or fail at once if it is the only one)',
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of self.source?.describe() ?? []) this.set({ endpoint: e.name }, e.ejected ? 1 : 0);
      },
    });
    new Gauge({
      name: `${HEDGE_PREFIX}endpoint_latency_seconds`,
      help: "An endpoint's recent latency estimate (EWMA; a failure weighs as its slow-call threshold)",
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of self.source?.describe() ?? []) this.set({ endpoint: e.name }, e.latencyMs / 1000);
      },
    });
  }

  /** The client to read from now on; what the previous one counted is kept. */
  watch(source: HedgeSource | undefined): void {
    if (this.source && this.source !== source) this.add(this.carried, this.source);
    this.source = source;
  }

  private totals(): Totals {
    const t: Totals = { ...this.carried, ejections: new Map(this.carried.ejections), slowCalls: new Map(this.carried.slowCalls) };
    if (this.source) this.add(t, this.source);
    return t;
  }

  private add(t: Totals, s: HedgeSource): void {
    t.hedges += s.stats.hedges;
    t.hedgesWon += s.stats.hedgesWon;
    t.denied += s.stats.denied;
    t.failovers += s.stats.failovers;
    for (const e of s.describe()) {
      t.ejections.set(e.name, (t.ejections.get(e.name) ?? 0) + e.ejections);
      t.slowCalls.set(e.name, (t.slowCalls.get(e.name) ?? 0) + e.slowCalls);
    }
  }
}
