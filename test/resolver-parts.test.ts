// Direct tests of the resolver's parts on a clock the tests move by hand:
// the circuit breaker, the deadline list, the batcher (over the real HTTP
// client and the real local backend) and the answer cache. No sleeps: time
// passes only when a test advances it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { defaultConfig } from '../proxy/config.js';
import { Batcher, type BatchItem, type BatchOutcome } from '../proxy/resolver/batcher.js';
import { Breaker } from '../proxy/resolver/breaker.js';
import { AnswerCache } from '../proxy/resolver/cache.js';
import { DeadlineList, type Timed } from '../proxy/resolver/deadlines.js';
import { startTestBackend, testReader } from './helpers/backend.js';
import { FakeClock } from './helpers/clock.js';
import { refusedPort } from './helpers/fault-servers.js';
import { CountingUpstream } from './helpers/resolver.js';
import { waitUntil } from './helpers/wait.js';

describe('breaker', () => {
  const make = (probe: () => Promise<void>) => {
    const clock = new FakeClock();
    const changes: string[] = [];
    const breaker = new Breaker({ failures: 3, probeIntervalMs: 100 }, clock, probe, (open, reason) => changes.push(`${open ? 'open' : 'closed'}: ${reason}`));
    return { clock, breaker, changes };
  };

  it('opens after the configured consecutive failures; a success in between starts the count again', () => {
    const { breaker, changes } = make(() => Promise.resolve());
    breaker.failed('a');
    breaker.failed('b');
    breaker.succeeded();
    breaker.failed('c');
    breaker.failed('d');
    assert.equal(breaker.open, false);
    breaker.failed('e');
    assert.equal(breaker.open, true);
    assert.deepEqual(changes, ['open: e']);
    breaker.close();
  });

  it('probes once per interval while open, one probe at a time, and closes when a probe succeeds', async () => {
    let probes = 0;
    let answer: (ok: boolean) => void = () => {};
    const { clock, breaker, changes } = make(() => {
      probes++;
      return new Promise<void>((resolve, reject) => (answer = (ok) => (ok ? resolve() : reject(new Error('still down')))));
    });
    for (let i = 0; i < 3; i++) breaker.failed('down');
    clock.advance(99);
    assert.equal(probes, 0, 'no probe before the interval');
    clock.advance(1);
    assert.equal(probes, 1);
    clock.advance(300);
    assert.equal(probes, 1, 'a probe still running is not doubled');
    answer(false);
    await Promise.resolve();
    await Promise.resolve();
    clock.advance(100);
    assert.equal(probes, 2);
    assert.equal(breaker.open, true);
    clock.advance(250);
    answer(true);
    await waitUntil(() => !breaker.open, { what: 'the breaker to close' });
    assert.deepEqual(changes, ['open: down', 'closed: upstream answered again after 750 ms']);
    clock.advance(1000);
    assert.equal(probes, 2, 'no probe once closed');
    assert.equal(clock.pending, 0);
  });
});

describe('deadline list', () => {
  interface Item extends Timed {
    name: string;
  }
  const item = (name: string, deadline: number): Item => ({ name, deadline, prev: undefined, next: undefined });

  it('expires entries at their deadlines, in order, behind one timer; removed ones never', () => {
    const clock = new FakeClock();
    const expired: string[] = [];
    const list = new DeadlineList<Item>(clock, (i) => expired.push(`${i.name}@${clock.monotonic()}`));
    const a = item('a', 100);
    const b = item('b', 150);
    const c = item('c', 200);
    list.add(a);
    list.add(b);
    list.add(c);
    assert.equal(clock.pending, 1, 'one timer for the whole list');
    list.remove(b);
    list.remove(b); // settled twice: no effect
    clock.advance(99);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['a@100']);
    clock.advance(100);
    assert.deepEqual(expired, ['a@100', 'c@200']);
    assert.equal(clock.pending, 0, 'no timer once empty');
    list.add(item('d', 300));
    list.close();
    clock.advance(1000);
    assert.deepEqual(expired, ['a@100', 'c@200'], 'nothing fires once closed');
  });

  it('removing the head re-arms for the next one', () => {
    const clock = new FakeClock();
    const expired: string[] = [];
    const list = new DeadlineList<Item>(clock, (i) => expired.push(i.name));
    const a = item('a', 100);
    list.add(a);
    list.add(item('b', 120));
    list.remove(a);
    clock.advance(130);
    assert.deepEqual(expired, ['b']);
  });
});

describe('batcher, over the real HTTP client and backend', () => {
  let backend: Backend;
  before(async () => {
    backend = await startTestBackend({ t: Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${i}`] as const) });
  });
  after(() => backend.close());

  interface Q extends BatchItem {
    name: string;
  }
  const run = (url: string, clock: FakeClock, windowMs: number, max: number) => {
    const upstream = new CountingUpstream(testReader(url));
    const outcomes = new Map<string, BatchOutcome>();
    const failures: unknown[] = [];
    const batcher = new Batcher<Q>(upstream, clock, { windowMs, max, timeoutMs: 5000 }, { succeeded: () => {}, failed: (_t, err) => failures.push(err) }, (q, o) => outcomes.set(q.name, o));
    const ask = (key: string): void => batcher.enqueue('t', { name: key, query: { service: 'alias', key }, at: clock.monotonic() });
    return { upstream, outcomes, failures, ask };
  };

  it('sends what one tick asks at once when nothing is in flight; holds what arrives meanwhile for the window; a full batch goes at once', async () => {
    const clock = new FakeClock();
    const { upstream, outcomes, ask } = run(backend.url, clock, 50, 4);
    // Nothing waiting or in flight: the misses of this tick go together, without the window.
    ask('k1');
    ask('k2');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(upstream.batchSizes, [2]);
    // Asked while that request is in flight: held for the window.
    ask('nope');
    ask('k3');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(upstream.batchSizes, [2], 'nothing more sent inside the window');
    clock.advance(50);
    await waitUntil(() => outcomes.size === 4, { what: 'four outcomes' });
    assert.deepEqual(upstream.batchSizes, [2, 2]);
    assert.deepEqual(
      ['k1', 'k2', 'nope', 'k3'].map((k) => (outcomes.get(k) as { result: unknown }).result),
      [{ s: 'found', value: 'v1' }, { s: 'found', value: 'v2' }, { s: 'not-found' }, { s: 'found', value: 'v3' }],
    );
    // A full batch goes at once, even while another request is in flight.
    ask('k4');
    await new Promise((r) => setImmediate(r));
    for (let i = 5; i < 9; i++) ask(`k${i}`);
    await waitUntil(() => outcomes.size === 9, { what: 'the full batch, without the window passing' });
    assert.deepEqual(upstream.batchSizes, [2, 2, 1, 4]);
    await upstream.close();
  });

  it('a failed request fails every query in it, with the same error, reported once', async () => {
    const clock = new FakeClock();
    const { outcomes, failures, ask, upstream } = run(`http://127.0.0.1:${await refusedPort()}`, clock, 10, 100);
    ask('a');
    ask('b');
    clock.advance(10);
    await waitUntil(() => outcomes.size === 2, { what: 'both failed' });
    const [a, b] = [outcomes.get('a'), outcomes.get('b')] as Array<{ error: unknown }>;
    assert.ok(a && 'error' in a && a.error === b!.error);
    assert.equal(failures.length, 1);
    await upstream.close();
  });
});

describe('answer cache', () => {
  const entry = (value: string | undefined) => ({ value, generation: 1, freshUntil: 0, staleUntil: 0 });

  it('is bounded by entries, dropping the least recently used', () => {
    const cache = new AnswerCache({ ...defaultConfig().cache, maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) cache.set(k, entry(k));
    cache.get('a');
    cache.set('d', entry('d'));
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.equal(cache.get('a')?.value, 'a');
  });

  it('is bounded by bytes, counting keys and values as UTF-16', () => {
    const cache = new AnswerCache({ ...defaultConfig().cache, maxBytes: 10_000 });
    for (let i = 0; i < 100; i++) cache.set(`key${i}`, entry('x'.repeat(1000)));
    assert.ok(cache.bytes <= 10_000, `${cache.bytes} bytes`);
    assert.ok(cache.size < 10 && cache.size > 0, `${cache.size} entries`);
    cache.clear();
    assert.deepEqual([cache.size, cache.bytes], [0, 0]);
  });

  it('keeps negative entries (no value) and deletes on demand', () => {
    const cache = new AnswerCache(defaultConfig().cache);
    cache.set('gone', entry(undefined));
    assert.deepEqual(cache.get('gone'), entry(undefined));
    cache.delete('gone');
    assert.equal(cache.get('gone'), undefined);
  });
});
