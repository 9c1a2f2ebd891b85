// A running proxy's figures, read from its metrics endpoint (/metrics.json):
// what `cloudtable status` shows next to the function's own view.

import { request } from 'undici';
import { LOOKUP_RESULTS, type LookupResult } from '../resolver/observer.js';
import { HEDGE_PREFIX } from './hedge-metrics.js';
import { METRIC_PREFIX } from './proxy-metrics.js';
import { REPLICA_PREFIX } from './replica-metrics.js';

/** prom-client's JSON form of a registry. */
export type MetricsJson = Array<{ name: string; type: string; values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> }>;

export interface TableFigures {
  /** The newest generation the proxy has seen; undefined before its first answer from the function. */
  generation?: number;
  lookups: Record<LookupResult, number>;
  /** The table's local replica, when the proxy keeps one (replica-metrics.ts). */
  replica?: ReplicaFigures;
}

export interface ReplicaFigures {
  mode: string;
  generation?: number;
  entries?: number;
  confirmedAgeS?: number;
  expired?: boolean;
  bytes?: number;
  verified?: boolean;
  lastSync?: { kind: string; entries: number; seconds: number; bytes: number };
}

/** What the hedging client did (hedge-metrics.ts). */
export interface HedgingFigures {
  hedges: { sent: number; won: number; refused: number };
  failovers: number;
  endpoints: Array<{ name: string; ejected: boolean; latencyMs: number; ejections: number; slowCalls: number }>;
}

export interface ProxyFigures {
  tables: Record<string, TableFigures>;
  lookupsInFlight: number;
  upstream: { url?: string; requests: Record<string, number>; inFlight: number; circuitOpen: boolean; hedging: HedgingFigures };
  cache: { entries: number; bytes: number; maxEntries: number; maxBytes: number };
  residentBytes?: number;
}

export async function fetchMetricsJson(baseUrl: string, timeoutMs: number): Promise<MetricsJson> {
  const res = await request(`${baseUrl.replace(/\/$/, '')}/metrics.json`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`${baseUrl}/metrics.json answered HTTP ${res.statusCode}`);
  }
  return (await res.body.json()) as MetricsJson;
}

/**
 * The sum of a metric's values whose labels include `labels` (all of them
 * when none are given). A histogram's series are named `NAME_count`, `NAME_sum`.
 */
export function metricValue(json: MetricsJson, name: string, labels: Record<string, string> = {}): number {
  const m = json.find((x) => x.name === name) ?? json.find((x) => x.type === 'histogram' && name.startsWith(`${x.name}_`));
  let sum = 0;
  for (const v of m?.values ?? []) {
    if ((v.metricName ?? m!.name) !== name) continue;
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** The replica gauges, per table. */
function readReplicas(json: MetricsJson, table: (name: string) => TableFigures): void {
  const each = (name: string, f: (r: ReplicaFigures, value: number, labels: Record<string, string | number>) => void): void => {
    for (const v of json.find((x) => x.name === `${REPLICA_PREFIX}${name}`)?.values ?? []) {
      const t = table(String(v.labels.table));
      f((t.replica ??= { mode: 'cache' }), v.value, v.labels);
    }
  };
  each('info', (r, _v, l) => (r.mode = String(l.mode)));
  each('generation', (r, v) => (r.generation = v));
  each('entries', (r, v) => (r.entries = v));
  each('confirmed_age_seconds', (r, v) => (r.confirmedAgeS = v));
  each('expired', (r, v) => (r.expired = v === 1));
  each('bytes', (r, v) => (r.bytes = v));
  each('verified', (r, v) => (r.verified = v === 1));
  const last = (r: ReplicaFigures, l: Record<string, string | number>) => (r.lastSync ??= { kind: String(l.kind), entries: 0, seconds: 0, bytes: 0 });
  each('last_sync_entries', (r, v, l) => (last(r, l).entries = v));
  each('last_sync_seconds', (r, v, l) => (last(r, l).seconds = v));
  each('last_sync_bytes', (r, v, l) => (last(r, l).bytes = v));
}

function readHedging(json: MetricsJson): HedgingFigures {
  const hedge = (result: string): number => metricValue(json, `${HEDGE_PREFIX}hedges_total`, { result });
  const endpoints = new Map<string, HedgingFigures['endpoints'][number]>();
  const each = (name: string, f: (e: HedgingFigures['endpoints'][number], value: number) => void): void => {
    for (const v of json.find((x) => x.name === `${HEDGE_PREFIX}${name}`)?.values ?? []) {
      const endpoint = String(v.labels.endpoint);
      let e = endpoints.get(endpoint);
      if (!e) endpoints.set(endpoint, (e = { name: endpoint, ejected: false, latencyMs: 0, ejections: 0, slowCalls: 0 }));
      f(e, v.value);
    }
  };
  each('endpoint_ejected', (e, v) => (e.ejected = v === 1));
  each('endpoint_latency_seconds', (e, v) => (e.latencyMs = v * 1000));
  each('ejections_total', (e, v) => (e.ejections = v));
  each('slow_calls_total', (e, v) => (e.slowCalls = v));
  return {
    hedges: { sent: hedge('sent'), won: hedge('won'), refused: hedge('refused') },
    failovers: metricValue(json, `${HEDGE_PREFIX}failovers_total`),
    endpoints: [...endpoints.values()],
  };
}

export function proxyFigures(json: MetricsJson): ProxyFigures {
  const tables: Record<string, TableFigures> = {};
  const table = (name: string): TableFigures => (tables[name] ??= { lookups: Object.fromEntries(LOOKUP_RESULTS.map((r) => [r, 0])) as Record<LookupResult, number> });
  for (const v of json.find((x) => x.name === `${METRIC_PREFIX}lookups_total`)?.values ?? []) {
    table(String(v.labels.table)).lookups[v.labels.result as LookupResult] += v.value;
  }
  for (const v of json.find((x) => x.name === `${METRIC_PREFIX}table_generation`)?.values ?? []) table(String(v.labels.table)).generation = v.value;
  readReplicas(json, (name) => table(name));
  const requests: Record<string, number> = {};
  for (const v of json.find((x) => x.name === `${METRIC_PREFIX}upstream_requests_total`)?.values ?? []) {
    const o = String(v.labels.outcome);
    requests[o] = (requests[o] ?? 0) + v.value;
  }
  const one = (name: string): number => metricValue(json, `${METRIC_PREFIX}${name}`);
  const url = json.find((x) => x.name === `${METRIC_PREFIX}upstream_info`)?.values[0]?.labels.url;
  const rss = json.find((x) => x.name === 'process_resident_memory_bytes')?.values[0]?.value;
  return {
    tables,
    lookupsInFlight: one('lookups_in_flight'),
    upstream: {
      ...(url !== undefined && { url: String(url) }),
      requests,
      inFlight: one('upstream_requests_in_flight'),
      circuitOpen: one('upstream_circuit_open') === 1,
      hedging: readHedging(json),
    },
    cache: { entries: one('cache_entries'), bytes: one('cache_bytes'), maxEntries: one('cache_max_entries'), maxBytes: one('cache_max_bytes') },
    ...(rss !== undefined && { residentBytes: rss }),
  };
}
