// The Prometheus endpoint: every lookup counted once under its result, the
// upstream requests, batch sizes, latencies, in-flight gauges, cache figures
// and generations, hedges, ejections and slow calls, read from a real
// resolver and a real `cloudtable smtpd`.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { request as httpRequest } from 'undici';
import { buildConfig, ConfigError } from '../proxy/config.js';
import { fetchMetricsJson, metricValue, proxyFigures } from '../proxy/metrics/figures.js';
import { LookupTally, MAX_TABLE_LABELS, OTHER_TABLES } from '../proxy/metrics/lookup-tally.js';
import { ProxyMetrics } from '../proxy/metrics/proxy-metrics.js';
import { serveMetrics } from '../proxy/metrics/endpoint.js';
import { silentLogger } from '../proxy/log.js';
import { TEST_ENV, startTestBackend } from './helpers/backend.js';
import { runCli } from './helpers/cli.js';
import { blackHole, forward, switchableUpstream } from './helpers/fault-servers.js';
import { sleep, testConfig, testResolver } from './helpers/resolver.js';
import { SmtpdPeer, request, writeConfig } from './helpers/smtpd-peer.js';

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('metrics', () => {
  it('counts each lookup once under hit, negative, miss, stale, error or timeout, with the upstream requests behind them', async () => {
    const backend = await startTestBackend({ t: [['k1', 'v1']] });
    const port = backend.port;
    const config = testConfig(backend.url, { upstream: { deadline_ms: 300 }, cache: { ttl_s: 0.2, stale_s: 60 }, breaker: { failures: 1000 } });
    const metrics = new ProxyMetrics();
    const { resolver } = testResolver(config, metrics);
    metrics.watch(resolver, config.upstream.url);
    const endpoint = serveMetrics(metrics, { host: '127.0.0.1', port: 0 }, silentLogger);
    cleanup.push(() => endpoint.close(), () => resolver.close());
    const url = await endpoint.listening;
    assert.ok(url?.startsWith('http://127.0.0.1:'));

    assert.equal((await resolver.lookup('t', 'alias', 'k1')).kind, 'found'); // miss
    assert.equal((await resolver.lookup('t', 'alias', 'k1')).kind, 'found'); // hit
    assert.equal((await resolver.lookup('t', 'alias', 'absent')).kind, 'not-found'); // miss
    assert.equal((await resolver.lookup('t', 'alias', 'absent')).kind, 'not-found'); // negative
    assert.equal((await resolver.lookup('t', 'alias', '')).kind, 'not-found'); // negative: no table holds an empty key
    await backend.close();
    await sleep(250); // k1 expires; the function is gone
    assert.deepEqual(await resolver.lookup('t', 'alias', 'k1'), { kind: 'found', value: 'v1', source: 'stale' }); // stale
    assert.equal((await resolver.lookup('t', 'alias', 'k2')).kind, 'error'); // error (refused)
    const hole = await blackHole(port);
    cleanup.push(() => hole.close());
    const late = resolver.lookup('t', 'alias', 'k3'); // timeout
    await sleep(100);
    let json = await fetchMetricsJson(url!, 2000);
    assert.equal(metricValue(json, 'cloudtable_lookups_in_flight'), 1);
    assert.equal(metricValue(json, 'cloudtable_upstream_requests_in_flight'), 1);
    const a = await late;
    assert.ok(a.kind === 'error' && a.timeout);

    json = await fetchMetricsJson(url!, 2000);
    const lookups = (result: string): number => metricValue(json, 'cloudtable_lookups_total', { table: 't', service: 'alias', result });
    assert.deepEqual(
      Object.fromEntries(['hit', 'negative', 'miss', 'stale', 'error', 'timeout'].map((r) => [r, lookups(r)])),
      { hit: 1, negative: 2, miss: 2, stale: 1, error: 1, timeout: 1 },
    );
    const requests = (outcome: string): number => metricValue(json, 'cloudtable_upstream_requests_total', { table: 't', outcome });
    assert.deepEqual({ ok: requests('ok'), network: requests('network'), timeout: requests('timeout') }, { ok: 2, network: 2, timeout: 1 });
    assert.equal(metricValue(json, 'cloudtable_upstream_batch_size_count', { table: 't' }), 5);
    assert.equal(metricValue(json, 'cloudtable_upstream_batch_size_sum', { table: 't' }), 5);
    assert.equal(metricValue(json, 'cloudtable_upstream_request_duration_seconds_count', { table: 't', outcome: 'timeout' }), 1);
    assert.ok(metricValue(json, 'cloudtable_upstream_request_duration_seconds_sum', { table: 't', outcome: 'timeout' }) >= 0.25);
    assert.equal(metricValue(json, 'cloudtable_lookups_in_flight'), 0);
    assert.equal(metricValue(json, 'cloudtable_upstream_requests_in_flight'), 0);

    const figures = proxyFigures(json);
    assert.equal(figures.tables.t?.generation, resolver.generation('t'));
    assert.equal(figures.cache.entries, 2);
    assert.ok(figures.cache.bytes > 0);
    assert.equal(figures.cache.maxEntries, config.cache.maxEntries);
    assert.equal(figures.upstream.circuitOpen, false);
    assert.ok((figures.residentBytes ?? 0) > 0, 'process figures are exported too');
  });

  it('serves the Prometheus text format on loopback from `cloudtable smtpd --metrics`, and nothing else', async () => {
    const backend = await startTestBackend({ aliases: [['root', 'alice']] });
    cleanup.push(() => backend.close());
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n[metrics]\nlisten = "0"\n`)]);
    cleanup.push(() => peer.kill());
    await peer.handshake('aliases');
    const base = await peer.metricsUrl();
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'a bare port listens on loopback');
    peer.write(request('aliases', 'lookup', 'alias', '00000001', 'root') + request('aliases', 'lookup', 'alias', '00000002', 'root'));
    await peer.lines(1);
    peer.write(request('aliases', 'lookup', 'alias', '00000003', 'root'));
    await peer.lines(2);

    const res = await httpRequest(`${base}/metrics`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = await res.body.text();
    // Two callers coalesced into one query: two misses, one request; then a hit.
    assert.match(text, /^cloudtable_lookups_total\{table="aliases",service="alias",result="miss"\} 2$/m);
    assert.match(text, /^cloudtable_lookups_total\{table="aliases",service="alias",result="hit"\} 1$/m);
    assert.match(text, /^cloudtable_upstream_requests_total\{table="aliases",outcome="ok"\} 1$/m);
    assert.match(text, /^cloudtable_table_generation\{table="aliases"\} \d+$/m);
    assert.match(text, /^cloudtable_cache_entries 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);

    const other = await httpRequest(`${base}/`);
    assert.equal(other.statusCode, 404);
    await other.body.dump();
    const post = await httpRequest(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.statusCode, 405);
    await post.body.dump();
  });

  it('hedges (sent, won, refused), failovers, ejections and slow calls: in /metrics and in `cloudtable status`', async () => {
    const backend = await startTestBackend({ aliases: Array.from({ length: 60 }, (_, i) => [`user${i}`, `u${i}`] as [string, string]) });
    cleanup.push(() => backend.close());
    let n = 0;
    let stuck = -1;
    const upstream = await switchableUpstream({
      kind: 'http',
      handle: (req, body, res) => {
        if (++n === stuck) return; // this one invocation never answers
        void forward(backend.url, req, body, res);
      },
    });
    cleanup.push(() => upstream.close());
    // The plain `upstream.url` form: one endpoint, hedged to a second connection pool.
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${upstream.url}"\n[metrics]\nlisten = "0"\n`)]);
    cleanup.push(() => peer.kill());
    await peer.handshake('aliases');
    const base = await peer.metricsUrl();
    for (let i = 0; i < 20; i++) assert.equal(await peer.ask('aliases', 'lookup', 'alias', `user${i}`), `found|u${i}`);
    stuck = n + 1;
    const t = performance.now();
    assert.equal(await peer.ask('aliases', 'lookup', 'alias', 'user20'), 'found|u20');
    assert.ok(performance.now() - t < 1000, 'answered by the hedge, before the slow-call threshold (adaptive: 1 s here)');
    let json = await fetchMetricsJson(base, 2000);
    assert.equal(metricValue(json, 'cloudtable_upstream_hedges_total', { result: 'sent' }), 1);
    assert.equal(metricValue(json, 'cloudtable_upstream_hedges_total', { result: 'won' }), 1);
    // The stuck request was aborted once the hedge answered: a loser, not a slow call.
    assert.equal(metricValue(json, 'cloudtable_upstream_slow_calls_total', { endpoint: 'us-east-1' }), 0);

    // Hung: every call is slow; after breaker.failures (3) of them the endpoint is ejected.
    await upstream.set({ kind: 'silent' });
    for (let i = 21; i < 26; i++) assert.match(await peer.ask('aliases', 'lookup', 'alias', `user${i}`), /^error/);
    json = await fetchMetricsJson(base, 2000);
    const f = proxyFigures(json).upstream.hedging;
    assert.equal(f.endpoints.length, 1);
    assert.equal(f.endpoints[0]!.name, 'us-east-1');
    assert.ok(f.endpoints[0]!.slowCalls >= 3, `slow calls ${f.endpoints[0]!.slowCalls}`);
    assert.equal(f.endpoints[0]!.ejections, 1);
    assert.equal(f.endpoints[0]!.ejected, true);
    // The first hung call was hedged (nothing had failed yet), none after: no hedge to a failing endpoint.
    assert.deepEqual(f.hedges, { sent: 2, won: 1, refused: 0 });
    const r = await runCli(['status', '--admin', backend.url, '--upstream', backend.url, '--proxy', base], TEST_ENV);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`; hedges sent 2, won 1, refused by the budget 0; failovers 0; endpoints us-east-1 EJECTED \\(ejected 1 times, ${f.endpoints[0]!.slowCalls} slow calls\\);`));
  });

  it('a metrics port already taken is logged and lookups go on', async () => {
    const backend = await startTestBackend({ aliases: [['root', 'alice']] });
    cleanup.push(() => backend.close());
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => taken.close(r)));
    const port = (taken.address() as { port: number }).port;
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n`), '--metrics', `127.0.0.1:${port}`]);
    cleanup.push(() => peer.kill());
    await peer.handshake('aliases');
    const line = await peer.log((l) => l.msg === 'metrics endpoint cannot listen: lookups go on without it');
    assert.match(String(line.err), /EADDRINUSE/);
    peer.write(request('aliases', 'lookup', 'alias', '00000001', 'root'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|00000001|found|alice']);
  });

  it('metrics.listen: PORT, HOST:PORT and [IPV6]:PORT; loopback unless a host is given; off by default', () => {
    assert.equal(buildConfig({}).metrics.listen, undefined);
    assert.deepEqual(buildConfig({ metrics: { listen: '9464' } }).metrics.listen, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(buildConfig({ metrics: { listen: 9464 } }).metrics.listen, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(buildConfig({ metrics: { listen: '0.0.0.0:9464' } }).metrics.listen, { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(buildConfig({ metrics: { listen: '[::1]:9464' } }).metrics.listen, { host: '::1', port: 9464 });
    for (const bad of ['', 'host:', ':9464', '127.0.0.1:65536', 'a b:1', '::1:9464', 'http://127.0.0.1:9464']) {
      assert.throws(() => buildConfig({ metrics: { listen: bad } }), ConfigError, bad);
    }
    assert.throws(() => buildConfig({ metrics: { port: 1 } }), /unknown key port/);
  });

  it('keeps at most MAX_TABLE_LABELS tables as labels, the rest summed under one', () => {
    const tally = new LookupTally();
    for (let i = 0; i < MAX_TABLE_LABELS + 50; i++) tally.count(`t${i}`, 'alias', 'hit');
    const rows = [...tally.rows()];
    assert.equal(rows.length, MAX_TABLE_LABELS + 1);
    assert.equal(rows.find((r) => r.table === OTHER_TABLES)?.counts.hit, 50);
  });
});
