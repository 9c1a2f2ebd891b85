// Background generation checks, counted at the real backend: one request
// per proxy process for all its tables in use, once per interval; none
// while lookups that reach the function confirm the tables; none for tables
// nobody asks; and the function that predates the generations request
// still answered one table at a time.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GENERATIONS_PATH, LOOKUP_PATH, type GenerationsRequest, type LookupRequest } from '../common/contract/lookup.js';
import { route } from '../lambda/function-url.js';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { CallError } from '../proxy/http/call-error.js';
import { refusedPort } from './helpers/fault-servers.js';
import { recordRequests, startTestBackend, testReader, type RequestLog } from './helpers/backend.js';
import { sleep, testConfig, testResolver, type CountingUpstream } from './helpers/resolver.js';

const TABLES = { t1: [['a', 'alpha']], t2: [['b', 'beta']] } as const;
/** max_staleness 1 s: the poller ticks every 250 ms, a table falls due 500 ms after its last confirmation. */
const FAST = { cache: { max_staleness_s: 1 } };
const HALF_MS = 500;

/** Closes a resolver and lets a check it had in flight reach the backend before the next test counts. */
async function closed(resolver: { close(): Promise<void> }): Promise<void> {
  await resolver.close();
  await sleep(300);
}

/** The generation checks in a log: generations requests, and lookups asking no keys (one table each). */
function checks(log: RequestLog): { together: string[][]; single: string[] } {
  const together: string[][] = [];
  const single: string[] = [];
  log.paths.forEach((path, i) => {
    if (path === GENERATIONS_PATH) together.push((JSON.parse(log.bodies[i]!) as GenerationsRequest).tables);
    if (path === LOOKUP_PATH) {
      const body = JSON.parse(log.bodies[i]!) as LookupRequest;
      if (body.queries.length === 0) single.push(body.table);
    }
  });
  return { together, single };
}

/** Generation checks as the proxy sent them (counted as handed to its HTTP client, whatever the backend's lag): generations requests and lookups asking no keys. */
function sentChecks(upstream: CountingUpstream, since: { requests: number; lookups: number }): number {
  return upstream.generationChecks.length - since.requests + upstream.batchSizes.slice(since.lookups).filter((n) => n === 0).length;
}

const mark = (upstream: CountingUpstream): { requests: number; lookups: number } => ({ requests: upstream.generationChecks.length, lookups: upstream.batchSizes.length });

describe('generation checks', () => {
  let backend: Backend;
  let log: RequestLog;

  before(async () => {
    backend = await startTestBackend({ t1: [...TABLES.t1], t2: [...TABLES.t2] }, { collectEveryMs: 0 });
    log = recordRequests(backend);
  });
  after(() => backend.close());

  it('the function answers the generations of several tables in one invocation, an unknown table by name', async () => {
    const reader = testReader(backend.url);
    backend.meter.reset();
    const res = await reader.generations(['t1', 'nope'], 5000);
    assert.equal(res.tables[0]!.table, 't1');
    assert.ok('generation' in res.tables[0]! && res.tables[0].generation > 0 && res.tables[0].epoch !== undefined);
    assert.deepEqual(res.tables[1], { table: 'nope', error: 'unknown-table' });
    const row = backend.meter.snapshot().rows.find((r) => r.operation === 'generations');
    assert.deepEqual([row?.invocations, row?.readUnits], [1, 2]);
    await assert.rejects(reader.generations(Array.from({ length: 101 }, (_, i) => `t${i}`), 5000), (e: unknown) => e instanceof CallError && e.status === 413);
    await assert.rejects(reader.generations(['t1', 't1'], 5000), (e: unknown) => e instanceof CallError && e.status === 400);
    await reader.close();
  });
  it('two tables in use by one proxy: one generation-check request per interval, not two', async () => {
    const { resolver } = testResolver(testConfig(backend.url, FAST));
    assert.equal((await resolver.lookup('t1', 'alias', 'a')).kind, 'found');
    assert.equal((await resolver.lookup('t2', 'alias', 'b')).kind, 'found');
    log.reset();
    backend.meter.reset();
    const quietMs = 3000;
    await sleep(quietMs);
    const { together, single } = checks(log);
    assert.deepEqual(single, [], 'no table was checked on its own');
    assert.equal(log.paths.filter((p) => p !== GENERATIONS_PATH).length, 0, 'nothing else was asked');
    assert.ok(together.length >= 2 && together.length <= quietMs / HALF_MS + 1, `${together.length} checks in ${quietMs} ms (one per ${HALF_MS} ms interval)`);
    for (const tables of together) assert.deepEqual([...tables].sort(), ['t1', 't2']);
    // Billed as one invocation per check, one META read per table.
    const row = backend.meter.snapshot().rows.find((r) => r.operation === 'generations');
    assert.equal(row?.invocations, together.length);
    assert.equal(row?.readUnits, 2 * together.length);

    // A commit reaches the proxy through these checks within max_staleness.
    const before = resolver.generation('t2')!;
    await replaceTable(backend.store, 't2', [['b', 'beta 2']]);
    const deadline = Date.now() + 2000;
    while (resolver.generation('t2') === before && Date.now() < deadline) await sleep(20);
    assert.notEqual(resolver.generation('t2'), before, 'the new generation of t2 was seen');
    assert.deepEqual(await resolver.lookup('t2', 'alias', 'b'), { kind: 'found', value: 'beta 2', source: 'upstream' });
    await closed(resolver);
  });

  it('no check while lookups that reach the function confirm the tables', async () => {
    // max_staleness 2 s: a table falls due after 1 s without a confirmation, far above a lookup's time even on a loaded machine.
    const { resolver, upstream } = testResolver(testConfig(backend.url, { cache: { max_staleness_s: 2 } }));
    await resolver.lookup('t1', 'alias', 'a');
    await resolver.lookup('t2', 'alias', 'b');
    const since = mark(upstream);
    // A miss of each table every 50 ms (keys never asked before): each confirms its table.
    const until = Date.now() + 3000;
    for (let i = 0; Date.now() < until; i++) {
      await Promise.all([resolver.lookup('t1', 'alias', `absent-${i}`), resolver.lookup('t2', 'alias', `absent-${i}`)]);
      await sleep(50);
    }
    assert.equal(sentChecks(upstream, since), 0);
    assert.ok(upstream.batchSizes.length - since.lookups >= 10, `${upstream.batchSizes.length - since.lookups} lookups went to the function`);
    await closed(resolver);
  });

  it('tables nobody asked for longer than the cache TTL are not checked', async () => {
    const { resolver, upstream } = testResolver(testConfig(backend.url, { cache: { max_staleness_s: 0.4, ttl_s: 0.3, negative_ttl_s: 0.3 } }));
    await resolver.lookup('t1', 'alias', 'a');
    await resolver.lookup('t2', 'alias', 'b');
    await sleep(1000);
    const before = upstream.requests;
    await sleep(1000);
    assert.equal(upstream.requests, before, 'nothing was sent');
    await closed(resolver);
  });
});

describe('generation checks against a function that predates the generations request', () => {
  let backend: Backend;
  let log: RequestLog;

  before(async () => {
    // Its routes as a function of the earlier version has them: no /v1/generations (404 no-route).
    backend = await startTestBackend(
      { t1: [...TABLES.t1], t2: [...TABLES.t2] },
      { collectEveryMs: 0, extraMounts: () => [{ prefix: GENERATIONS_PATH, handler: (event) => route(event, {}) }] },
    );
    log = recordRequests(backend);
  });
  after(() => backend.close());

  it('asks it once, then checks one table at a time', async () => {
    const { resolver } = testResolver(testConfig(backend.url, FAST));
    await resolver.lookup('t1', 'alias', 'a');
    await resolver.lookup('t2', 'alias', 'b');
    log.reset();
    await sleep(2000);
    const { together, single } = checks(log);
    assert.equal(together.length, 1, 'the generations request was tried once');
    assert.ok(single.filter((t) => t === 't1').length >= 2 && single.filter((t) => t === 't2').length >= 2, `checked one at a time: ${single.join(' ')}`);
    assert.equal((await resolver.lookup('t1', 'alias', 'a')).kind, 'found');
    await closed(resolver);
  });
});

describe('generation checks while the circuit is open', () => {
  it('sends none: the replicas ask through the resolver, and only its probe reaches a function that is down', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}`;
    const { resolver, upstream } = testResolver(testConfig(url, { breaker: { failures: 1, probe_interval_ms: 60_000 } }));
    try {
      assert.equal((await resolver.lookup('t1', 'string', 'a')).kind, 'error');
      assert.ok(resolver.circuitOpen);
      const sent = mark(upstream);
      await assert.rejects(resolver.generationsOf(['t1', 't2']), /circuit open/);
      await assert.rejects(resolver.generationsOf(['t1']), /circuit open/);
      assert.equal(sentChecks(upstream, sent), 0);
    } finally {
      await resolver.close();
    }
  });
});
