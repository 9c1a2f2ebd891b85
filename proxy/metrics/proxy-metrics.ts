// The proxy's Prometheus metrics. Lookups are tallied in plain arrays (the
// hit path runs per request) and copied into prom-client when scraped;
// upstream requests, a few per batch of keys, go to prom-client directly.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Service } from '../../common/contract/lookup.js';
import type { LookupResult, RequestOutcome, ResolverObserver } from '../resolver/observer.js';
import type { Resolver } from '../resolver/resolver.js';
import { LookupTally, MAX_TABLE_LABELS, OTHER_TABLES } from './lookup-tally.js';
import { HedgeMetrics, type HedgeSource } from './hedge-metrics.js';
import { registerReplicaMetrics, type ReplicaMetrics, type ReplicaSource } from './replica-metrics.js';

export const METRIC_PREFIX = 'cloudtable_';

export class ProxyMetrics implements ResolverObserver {
  readonly registry = new Registry();
  private readonly tally = new LookupTally();
  private readonly upstreamTables = new Set<string>();
  private resolver: Resolver | undefined;
  private upstreamUrl = '';
  private readonly requests: Counter<'table' | 'outcome'>;
  private readonly batchSize: Histogram<'table'>;
  private readonly latency: Histogram<'table' | 'outcome'>;
  private readonly requestsInFlight: Gauge;
  private replicaSource: ReplicaSource | undefined;
  /** Transfers of the replicas (replica/replicas.ts reports them). */
  readonly replicas: ReplicaMetrics;
  private readonly hedging: HedgeMetrics;

  constructor() {
    const registers = [this.registry];
    // `this` of a collect callback is the metric; the tally and resolver are reached through `self`.
    const self = this;
    new Counter({
      name: `${METRIC_PREFIX}lookups_total`,
      help: 'Lookups answered, by table, service and result (hit, negative, miss, stale, error, timeout)',
      labelNames: ['table', 'service', 'result'],
      registers,
      collect() {
        this.reset();
        for (const { table, service, counts } of self.tally.rows()) {
          for (const [result, n] of Object.entries(counts)) this.inc({ table, service, result }, n);
        }
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}lookups_in_flight`,
      help: 'Lookups waiting for an answer from the function',
      registers,
      collect() {
        this.set(self.resolver?.pending ?? 0);
      },
    });
    this.requests = new Counter({
      name: `${METRIC_PREFIX}upstream_requests_total`,
      help: 'HTTP requests to the function, by table and outcome (ok, credentials, network, timeout, http, protocol)',
      labelNames: ['table', 'outcome'],
      registers,
    });
    this.batchSize = new Histogram({
      name: `${METRIC_PREFIX}upstream_batch_size`,
      help: 'Keys per HTTP request to the function (0: a generation-only probe)',
      labelNames: ['table'],
      buckets: [0, 1, 2, 5, 10, 25, 50, 100],
      registers,
    });
    this.latency = new Histogram({
      name: `${METRIC_PREFIX}upstream_request_duration_seconds`,
      help: 'Time from sending an HTTP request to the function to its outcome',
      labelNames: ['table', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requestsInFlight = new Gauge({
      name: `${METRIC_PREFIX}upstream_requests_in_flight`,
      help: 'HTTP requests to the function not finished yet',
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}upstream_info`,
      help: 'Always 1; the function URL the proxy asks is the label',
      labelNames: ['url'],
      registers,
      collect() {
        this.reset();
        if (self.upstreamUrl) this.set({ url: self.upstreamUrl }, 1);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}upstream_circuit_open`,
      help: '1 while the circuit breaker is open (misses answered at once, recovery probed)',
      registers,
      collect() {
        this.set(self.resolver?.circuitOpen ? 1 : 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cache_entries`,
      help: 'Answers in the cache (found and not-found)',
      registers,
      collect() {
        this.set(self.resolver?.cache.size ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cache_bytes`,
      help: 'Estimated size of the cached keys and values, as counted against cache.max_bytes',
      registers,
      collect() {
        this.set(self.resolver?.cache.bytes ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cache_max_entries`,
      help: 'cache.max_entries',
      registers,
      collect() {
        this.set(self.resolver?.cache.config.maxEntries ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}cache_max_bytes`,
      help: 'cache.max_bytes',
      registers,
      collect() {
        this.set(self.resolver?.cache.config.maxBytes ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}table_generation`,
      help: 'The newest generation of each table seen in an answer from the function',
      labelNames: ['table'],
      registers,
      collect() {
        this.reset();
        for (const [table, generation] of self.resolver?.tableGenerations() ?? []) this.set({ table: self.label(table) }, generation);
      },
    });
    this.replicas = registerReplicaMetrics(this.registry, () => self.replicaSource);
    this.hedging = new HedgeMetrics(this.registry);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The resolver whose state the gauges read (it reports to this object as its observer); the newest one after a reload. */
  watch(resolver: Resolver, upstreamUrl: string, replicas?: ReplicaSource, upstream?: HedgeSource): void {
    this.resolver = resolver;
    this.upstreamUrl = upstreamUrl;
    this.replicaSource = replicas;
    this.hedging.watch(upstream);
  }

  answered(table: string, service: Service, result: LookupResult): void {
    this.tally.count(table, service, result);
  }

  requestSent(table: string, queries: number): void {
    this.requestsInFlight.inc();
    this.batchSize.observe({ table: this.label(table) }, queries);
  }

  requestDone(table: string, outcome: RequestOutcome, ms: number): void {
    this.requestsInFlight.dec();
    const labels = { table: this.label(table), outcome };
    this.requests.inc(labels);
    this.latency.observe(labels, ms / 1000);
  }

  private label(table: string): string {
    if (this.upstreamTables.has(table)) return table;
    if (this.upstreamTables.size >= MAX_TABLE_LABELS) return OTHER_TABLES;
    this.upstreamTables.add(table);
    return table;
  }
}
