// The running proxies' part of `cloudtable status`: what each one's metrics
// endpoint says (its upstream, circuit, hedges, endpoints, cache, the
// generation it serves of each table), set against the active generations
// the admin function reports.

import { ConfigError, type Config } from '../config.js';
import { fetchMetricsJson, proxyFigures, type ProxyFigures, type ReplicaFigures } from '../metrics/figures.js';
import { LOOKUP_RESULTS } from '../resolver/observer.js';

/** The metrics endpoints to ask: the --proxy flags, else the configuration's own endpoint. */
export function proxyEndpoints(flags: string[] | undefined, config: Config): string[] {
  if (flags?.length) return flags.map(endpointOrigin);
  const l = config.metrics.listen;
  if (!l) return [];
  // A wildcard listener is reached on loopback.
  const host = l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '[::1]' : l.host.includes(':') ? `[${l.host}]` : l.host;
  return [`http://${host}:${l.port}`];
}

/**
 * A --proxy value: `[http://]HOST:PORT`, or the URL of the endpoint's
 * `/metrics` or `/metrics.json`, as copied from a browser; anything else is
 * refused (exit 78) rather than cut down to an address nobody wrote.
 */
function endpointOrigin(flag: string): string {
  let u: URL;
  try {
    u = new URL(flag.includes('://') ? flag : `http://${flag}`);
  } catch {
    throw new ConfigError(`--proxy: ${flag} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`--proxy: ${flag} must be http or https`);
  if (!['/', '/metrics', '/metrics.json'].includes(u.pathname) || u.search || u.hash) {
    throw new ConfigError(`--proxy: ${flag} must be a proxy's metrics endpoint (http://HOST:PORT), without another path`);
  }
  return u.origin;
}

/** Lines describing each proxy; `ok` is false when one could not be read. */
export async function proxyStatus(endpoints: string[], active: Map<string, number>, timeoutMs: number): Promise<{ lines: string[]; ok: boolean }> {
  const lines: string[] = [];
  let ok = true;
  for (const url of endpoints) {
    let f: ProxyFigures;
    try {
      f = proxyFigures(await fetchMetricsJson(url, timeoutMs));
    } catch (err) {
      ok = false;
      lines.push(`proxy ${url}: cannot read its metrics: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    lines.push(describeProxy(url, f), ...describeTables(f, active));
  }
  return { lines, ok };
}

function describeProxy(url: string, f: ProxyFigures): string {
  const requests = Object.entries(f.upstream.requests)
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(', ');
  return [
    `proxy ${url}: upstream ${f.upstream.url ?? '?'}, circuit ${f.upstream.circuitOpen ? 'OPEN (misses answered error at once)' : 'closed'}`,
    `cache ${f.cache.entries} entries, ${mib(f.cache.bytes)} of ${mib(f.cache.maxBytes)}`,
    `in flight: ${f.lookupsInFlight} lookups, ${f.upstream.inFlight} requests`,
    `requests to the function: ${requests || 'none yet'}`,
    describeHedging(f.upstream.hedging),
    ...(f.residentBytes !== undefined ? [`${mib(f.residentBytes)} resident`] : []),
  ].join('; ');
}

/** Hedges and, per endpoint, its state, ejections and slow calls. */
function describeHedging(h: ProxyFigures['upstream']['hedging']): string {
  const endpoints = h.endpoints.map(
    (e) => `${e.name} ${e.ejected ? 'EJECTED' : `${Math.round(e.latencyMs)} ms`} (ejected ${e.ejections} times, ${e.slowCalls} slow calls)`,
  );
  return [`hedges sent ${h.hedges.sent}, won ${h.hedges.won}, refused by the budget ${h.hedges.refused}; failovers ${h.failovers}`, ...(endpoints.length ? [`endpoints ${endpoints.join(', ')}`] : [])].join('; ');
}

function describeTables(f: ProxyFigures, active: Map<string, number>): string[] {
  return Object.entries(f.tables).map(([table, t]) => {
    const want = active.get(table);
    const generation =
      t.generation === undefined ? 'no generation seen yet' : `generation ${t.generation}${want === undefined || want === t.generation ? '' : ` (the active one is ${want})`}`;
    const lookups = LOOKUP_RESULTS.map((r) => `${t.lookups[r]} ${r}`).join(', ');
    return `  ${table}: ${generation}; lookups ${lookups}${t.replica ? `; ${describeReplica(t.replica, active.get(table))}` : ''}`;
  });
}

function describeReplica(r: ReplicaFigures, want: number | undefined): string {
  if (r.mode !== 'replica' && r.generation === undefined) return 'cached (no replica)';
  const parts = [
    `${r.mode === 'replica' ? 'replicated' : 'replica not served'}: generation ${r.generation ?? '?'}${want === undefined || want === r.generation ? '' : ` (the active one is ${want})`}`,
    `${r.entries ?? '?'} entries, ${mib(r.bytes ?? 0)} on disk`,
    `confirmed ${Math.round(r.confirmedAgeS ?? 0)} s ago${r.expired ? ' (EXPIRED: answering error)' : ''}`,
    `digest ${r.verified ? 'verified' : 'not verified yet'}`,
  ];
  if (r.lastSync) parts.push(`last sync ${r.lastSync.kind}, ${r.lastSync.entries} entries in ${r.lastSync.seconds.toFixed(2)} s, ${r.lastSync.bytes} bytes`);
  return parts.join(', ');
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
