// A running proxy's figures, read from its metrics endpoint (/metrics.json):
// what `cloudtable status` shows next to the function's own view.

import { request } from 'undici';
import { LOOKUP_RESULTS, type LookupResult } from '../resolver/observer.js';
import { METRIC_PREFIX } from './proxy-metrics.js';

/** prom-client's JSON form of a registry. */
export type MetricsJson = Array<{ name: string; type: string; values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> }>;

export interface TableFigures {
  /** The newest generation the proxy has seen; undefined before its first answer from the function. */
  generation?: number;
  lookups: Record<LookupResult, number>;
}

export interface ProxyFigures {
  tables: Record<string, TableFigures>;
  lookupsInFlight: number;
  upstream: { url?: string; requests: Record<string, number>; inFlight: number; circuitOpen: boolean };
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

export function proxyFigures(json: MetricsJson): ProxyFigures {
  const tables: Record<string, TableFigures> = {};
  const table = (name: string): TableFigures => (tables[name] ??= { lookups: Object.fromEntries(LOOKUP_RESULTS.map((r) => [r, 0])) as Record<LookupResult, number> });
  for (const v of json.find((x) => x.name === `${METRIC_PREFIX}lookups_total`)?.values ?? []) {
    table(String(v.labels.table)).lookups[v.labels.result as LookupResult] += v.value;
  }
  for (const v of json.find((x) => x.name === `${METRIC_PREFIX}table_generation`)?.values ?? []) table(String(v.labels.table)).generation = v.value;
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
    upstream: { ...(url !== undefined && { url: String(url) }), requests, inFlight: one('upstream_requests_in_flight'), circuitOpen: one('upstream_circuit_open') === 1 },
    cache: { entries: one('cache_entries'), bytes: one('cache_bytes'), maxEntries: one('cache_max_entries'), maxBytes: one('cache_max_bytes') },
    ...(rss !== undefined && { residentBytes: rss }),
  };
}
