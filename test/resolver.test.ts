// The resolver against the real local backend over real HTTP: coalescing,
// batching, TTLs and stale-if-error (on a clock the tests move), generations.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { startTestBackend } from './helpers/backend.js';
import { FakeClock } from './helpers/clock.js';
import { testConfig, testResolver } from './helpers/resolver.js';

/** Misses go out at once (no batching window): on a clock moved by hand, a window would never end. */
const ON_FAKE_CLOCK = { batch_window_ms: 0 };

describe('resolver', () => {
  let backend: Backend;
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < 1000; i++) entries.push([`k${i}`, `v${i}`]);

  before(async () => {
    backend = await startTestBackend({ t: entries });
  });
  after(() => backend.close());

  it('coalesces 100 concurrent identical misses into one upstream query', async () => {
    const { resolver, upstream } = testResolver(testConfig(backend.url));
    const answers = await Promise.all(Array.from({ length: 100 }, () => resolver.lookup('t', 'alias', 'k1')));
    assert.equal(upstream.queries, 1);
    assert.equal(upstream.requests, 1);
    for (const a of answers) assert.deepEqual(a, { kind: 'found', value: 'v1', source: 'upstream' });
    assert.deepEqual(await resolver.lookup('t', 'alias', 'k1'), { kind: 'found', value: 'v1', source: 'cache' });
    assert.equal(upstream.requests, 1, 'the hit made no request');
    await resolver.close();
  });

  it('batches 1,000 concurrent distinct misses into at most 10 HTTP requests', async () => {
    const { resolver, upstream } = testResolver(testConfig(backend.url));
    const answers = await Promise.all(entries.map(([k]) => resolver.lookup('t', 'alias', k)));
    assert.ok(upstream.requests <= 10, `${upstream.requests} requests`);
    assert.equal(upstream.queries, 1000);
    answers.forEach((a, i) => assert.deepEqual(a, { kind: 'found', value: `v${i}`, source: 'upstream' }));
    await resolver.close();
  });

  it('sends a lone miss at once, and batches only the misses that arrive while a request is in flight', async () => {
    const windowMs = 200;
    const { resolver, upstream } = testResolver(testConfig(backend.url, { upstream: { batch_window_ms: windowMs } }));
    const asked = performance.now();
    const lone = resolver.lookup('t', 'alias', 'k10');
    // The lone miss is on its way now (sent at the end of the tick that asked it), its answer not back yet.
    await new Promise((resolve) => setImmediate(resolve));
    const joined = performance.now();
    const answers = await Promise.all([lone, resolver.lookup('t', 'alias', 'k11'), resolver.lookup('t', 'alias', 'k12')]);
    assert.deepEqual(answers.map((a) => a.kind), ['found', 'found', 'found']);
    assert.deepEqual(upstream.batchSizes, [1, 2], 'the two asked while the first was in flight share one request');
    const loneWait = upstream.sentAt[0]! - asked;
    const joinedWait = upstream.sentAt[1]! - joined;
    assert.ok(loneWait < windowMs / 4, `the lone miss waited ${loneWait.toFixed(1)} ms (window ${windowMs} ms)`);
    assert.ok(joinedWait >= windowMs - 1, `the misses asked while one was in flight waited ${joinedWait.toFixed(1)} ms, less than the window`);
    // A caller asking again as soon as it is answered (smtpd's next miss) finds nothing in flight.
    assert.equal((await resolver.lookup('t', 'alias', 'k13')).kind, 'found');
    const next = performance.now();
    assert.equal((await resolver.lookup('t', 'alias', 'k14')).kind, 'found');
    const nextWait = upstream.sentAt[3]! - next;
    assert.ok(nextWait < windowMs / 4, `the next lone miss waited ${nextWait.toFixed(1)} ms (window ${windowMs} ms)`);
    await resolver.close();
  });

  it('keeps found answers for ttl and not-found answers for the shorter negative ttl', async () => {
    const clock = new FakeClock();
    const { resolver, upstream } = testResolver(testConfig(backend.url, { cache: { ttl_s: 0.6, negative_ttl_s: 0.2 }, upstream: ON_FAKE_CLOCK }), undefined, clock);
    await resolver.lookup('t', 'alias', 'k2');
    await resolver.lookup('t', 'alias', 'absent');
    assert.equal(upstream.queries, 2);
    clock.advance(350);
    assert.equal(resolver.lookupCached('t', 'alias', 'k2')?.kind, 'found', 'found answer still fresh');
    assert.equal(resolver.lookupCached('t', 'alias', 'absent'), undefined, 'negative answer expired');
    assert.equal((await resolver.lookup('t', 'alias', 'absent')).kind, 'not-found');
    assert.equal(upstream.queries, 3);
    clock.advance(350);
    assert.equal(resolver.lookupCached('t', 'alias', 'k2'), undefined, 'found answer expired');
    assert.deepEqual(await resolver.lookup('t', 'alias', 'k2'), { kind: 'found', value: 'v2', source: 'upstream' });
    assert.equal(upstream.queries, 4);
    await resolver.close();
  });

  it('serves a stale value on upstream failure only inside the stale window', async () => {
    const own = await startTestBackend({ s: [['key', 'value']] });
    const clock = new FakeClock();
    const { resolver } = testResolver(
      testConfig(own.url, { cache: { ttl_s: 0.1, stale_s: 0.5 }, upstream: { ...ON_FAKE_CLOCK, deadline_ms: 300 }, breaker: { failures: 1000 } }),
      undefined,
      clock,
    );
    assert.equal((await resolver.lookup('s', 'alias', 'key')).kind, 'found');
    await own.close();
    clock.advance(150); // expired, inside the stale window
    assert.deepEqual(await resolver.lookup('s', 'alias', 'key'), { kind: 'found', value: 'value', source: 'stale' });
    clock.advance(500); // past the window
    const late = await resolver.lookup('s', 'alias', 'key');
    assert.equal(late.kind, 'error');
    // credentials are never served stale
    await resolver.close();
  });

  it('never serves credentials stale', async () => {
    const own = await startTestBackend({ c: [['alice', 'alice:$2b$hash']] });
    const clock = new FakeClock();
    const { resolver } = testResolver(testConfig(own.url, { cache: { ttl_s: 0.1, stale_s: 60 }, upstream: ON_FAKE_CLOCK, breaker: { failures: 1000 } }), undefined, clock);
    assert.equal((await resolver.lookup('c', 'credentials', 'alice')).kind, 'found');
    await own.close();
    clock.advance(150);
    assert.equal((await resolver.lookup('c', 'credentials', 'alice')).kind, 'error');
    await resolver.close();
  });

  it('drops cached answers of an older generation once a newer one is seen', async () => {
    const { resolver } = testResolver(testConfig(backend.url));
    await replaceTable(backend.store, 'g', [['a', 'one'], ['b', 'one']]);
    assert.equal((await resolver.lookup('g', 'alias', 'a')).kind, 'found');
    const gen1 = resolver.generation('g');
    await replaceTable(backend.store, 'g', [['a', 'two'], ['b', 'two']]);
    // b is a miss: its answer comes from the new generation and retires a's cached one
    assert.deepEqual(await resolver.lookup('g', 'alias', 'b'), { kind: 'found', value: 'two', source: 'upstream' });
    assert.equal(resolver.generation('g'), gen1! + 1);
    assert.equal(resolver.lookupCached('g', 'alias', 'a'), undefined);
    assert.deepEqual(await resolver.lookup('g', 'alias', 'a'), { kind: 'found', value: 'two', source: 'upstream' });
    await resolver.close();
  });

  it('answers not-found without a request for keys no table can hold', async () => {
    const { resolver, upstream } = testResolver(testConfig(backend.url));
    assert.equal((await resolver.lookup('t', 'alias', '')).kind, 'not-found');
    assert.equal((await resolver.lookup('t', 'alias', 'é'.repeat(600))).kind, 'not-found');
    assert.equal(upstream.requests, 0);
    await resolver.close();
  });

  it('answers error, not not-found, for an unknown table', async () => {
    const { resolver } = testResolver(testConfig(backend.url));
    const a = await resolver.lookup('nosuchtable', 'alias', 'x');
    assert.equal(a.kind, 'error');
    assert.match(a.kind === 'error' ? a.reason : '', /404 unknown-table/);
    await resolver.close();
  });
});
