// Several endpoints, hedging, ejection and the slow-call threshold
// (proxy/upstream/hedged.ts) over real HTTP: the proxy's reader client
// against two switchable endpoints in front of one real local backend,
// each endpoint made to hang, fail, reset or slow down in turn.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { buildConfig } from '../proxy/config.js';
import { createHedgedUpstream } from '../proxy/upstream/create.js';
import type { HedgedUpstream } from '../proxy/upstream/hedged.js';
import { TEST_CREDENTIALS, startTestBackend } from './helpers/backend.js';
import { forward as forwardRequest, switchableUpstream, type SwitchableUpstream, type UpstreamMode } from './helpers/fault-servers.js';

const TABLE = 'aliases';
const KEYS = Array.from({ length: 50 }, (_, i) => `user${i}`);
const credentials = () => Promise.resolve(TEST_CREDENTIALS);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

describe('hedging: several endpoints, hedged misses, ejection, slow calls', () => {
  let backend: Backend;
  let a: SwitchableUpstream;
  let b: SwitchableUpstream;
  const forward = (delayMs = 0): UpstreamMode => ({ kind: 'forward', to: backend.url, delayMs });

  before(async () => {
    backend = await startTestBackend({ [TABLE]: KEYS.map((k) => [k, `${k}@example.org`] as const) });
    a = await switchableUpstream({ kind: 'refuse' });
    b = await switchableUpstream({ kind: 'refuse' });
  });

  after(async () => {
    await a.close();
    await b.close();
    await backend.close();
  });

  function client(urls: string[], extra: Record<string, unknown> = {}): HedgedUpstream {
    return createHedgedUpstream(
      buildConfig({ upstream: { endpoints: urls.map((url, i) => ({ url, region: `local-${i + 1}` })), deadline_ms: 5000 }, ...extra }),
      credentials,
    );
  }

  /** `n` lookups one after another (as smtpd asks); each answer checked; their latencies, sorted. */
  async function sequential(u: HedgedUpstream, n: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = KEYS[i % KEYS.length]!;
      const t = performance.now();
      const r = await u.lookup(TABLE, [{ service: 'alias', key }], 5000);
      times.push(performance.now() - t);
      assert.deepEqual(r.results, [{ s: 'found', value: `${key}@example.org` }]);
    }
    return times.sort((x, y) => x - y);
  }

  for (const [fault, mode] of [
    ['hung (accepts, never answers)', { kind: 'silent' }],
    ['failing (a 503 storm)', { kind: 'http', handle: (_req, _body, res) => res.writeHead(503).end('{"v":1,"error":"store-unavailable","message":"down"}') }],
    ['resetting connections', { kind: 'refuse' }],
    ['slow (200 ms)', { kind: 'forward', to: '', delayMs: 200 }],
  ] as Array<[string, UpstreamMode]>) {
    it(`one endpoint ${fault}: every lookup answered by the other within the hedge delay plus its latency, p99 <= 100 ms; back in service once it recovers`, async () => {
      await a.set(forward());
      await b.set(forward(40));
      const u = client([a.url, b.url]);
      try {
        const healthy = await sequential(u, 30); // warm: the home endpoint (a) is the faster one
        await a.set(mode.kind === 'forward' ? forward(mode.delayMs) : mode);
        const times = await sequential(u, 200);
        const p99 = quantile(times, 0.99);
        // 100 ms on an idle machine (healthy p99 a few ms); under load, the hedge delay (1.5 x the healthy p95) plus a healthy answer.
        assert.ok(p99 <= Math.max(100, 4 * quantile(healthy, 0.99)), `p99 ${p99.toFixed(1)} ms (max ${times.at(-1)!.toFixed(1)} ms; healthy p99 ${quantile(healthy, 0.99).toFixed(1)} ms; ${JSON.stringify(u.stats)})`);
        assert.ok(times.at(-1)! <= 300 + healthy.at(-1)! + 50, `max ${times.at(-1)!.toFixed(1)} ms: within the hedge cap plus the other's latency`);
        // Failback: once it recovers, the faster endpoint takes the lookups back within a bounded
        // time (a refresh once a second finds it; an ejection lasts 250 ms), counted per endpoint.
        await a.set(forward());
        // The other, 150 ms slower now: which endpoint is the faster stays clear on a loaded machine.
        await b.set(forward(150));
        const recovered = performance.now();
        for (;;) {
          const [a0, b0] = [a.hits, b.hits];
          await sequential(u, 10);
          if (a.hits - a0 >= 10 && b.hits - b0 <= 2) break;
          assert.ok(performance.now() - recovered < 3000, `the recovered endpoint has not taken the lookups back after ${(performance.now() - recovered).toFixed(0)} ms (${JSON.stringify(u.describe())})`);
        }
        const [a1, b1] = [a.hits, b.hits];
        const steady = await sequential(u, 100);
        // The other gets only refreshes and hedges, both drawn from the budget: its burst (5) and 5 % of 100 calls.
        assert.ok(a.hits - a1 >= 100 && b.hits - b1 <= 10, `back on the recovered endpoint: ${a.hits - a1} requests there, ${b.hits - b1} on the other`);
        assert.ok(quantile(steady, 0.5) <= Math.max(20, quantile(healthy, 0.5) * 2), `at its latency: p50 ${quantile(steady, 0.5).toFixed(1)} ms`);
        assert.deepEqual(u.describe().map((e) => e.ejected), [false, false]);
        // And it is a real failback: when the other endpoint hangs in turn, it takes every lookup.
        await b.set({ kind: 'silent' });
        const fallback = await sequential(u, 30);
        assert.ok(quantile(fallback, 0.9) <= Math.max(100, 3 * quantile(healthy, 0.99)), `back on the recovered endpoint: p90 ${quantile(fallback, 0.9).toFixed(1)} ms`);
      } finally {
        await u.close();
      }
    });
  }

  it('failback does not depend on the hedge budget: with hedging off (0 %), an endpoint ejected for a long outage is probed once its ejection ends, and takes the lookups back once it recovers', async () => {
    await a.set(forward());
    await b.set(forward(40));
    const u = createHedgedUpstream(
      buildConfig({ upstream: { endpoints: [a.url, b.url].map((url, i) => ({ url, region: `local-${i + 1}` })), deadline_ms: 5000, hedge_budget_percent: 0 } }),
      credentials,
    );
    try {
      await sequential(u, 30);
      // Failing, for longer than the first burst of refreshes lasts (5 tokens, one refresh a second, none ever added).
      await a.set({ kind: 'http', handle: (_req, _body, res) => res.writeHead(503).end('{"v":1,"error":"store-unavailable","message":"down"}') });
      const outage = performance.now();
      while (u.stats.refreshes < 6 && performance.now() - outage < 7000) await sequential(u, 5);
      assert.equal(u.describe()[0]!.ejected, true, JSON.stringify(u.describe()));
      await a.set(forward());
      await b.set(forward(150));
      const recovered = performance.now();
      for (;;) {
        const a0 = a.hits;
        await sequential(u, 5);
        if (a.hits - a0 >= 5) break;
        assert.ok(performance.now() - recovered < 3000, `the recovered endpoint has not taken the lookups back after ${(performance.now() - recovered).toFixed(0)} ms (${JSON.stringify(u.describe())})`);
      }
      assert.equal(u.stats.hedges, 0);
    } finally {
      await u.close();
    }
  });

  it('one endpoint, one stuck request among many: hedged to another connection; hedges stay within the 5 % budget', async () => {
    let n = 0;
    const stuck = new Set([100, 250]);
    await a.set({
      kind: 'http',
      handle: (req, body, res) => {
        n++;
        if (stuck.has(n)) return; // this one invocation never answers
        void forwardRequest(backend.url, req, body, res);
      },
    });
    const u = client([a.url]);
    try {
      const healthy = await sequential(u, 30);
      const times = await sequential(u, 400);
      assert.ok(times.at(-1)! <= 300 + healthy.at(-1)! + 100, `the stuck requests were answered on another connection (max ${times.at(-1)!.toFixed(1)} ms)`);
      assert.ok(u.stats.hedges >= 2, `hedges ${u.stats.hedges}`);
      assert.ok(u.stats.hedges <= 0.05 * u.stats.calls + 5, `hedges ${u.stats.hedges} of ${u.stats.calls} calls`);
    } finally {
      await u.close();
    }
  });

  it('slow-call threshold: an endpoint answering after 4 s is ejected after a few calls; five lookups one at a time take <= 3 s in all', async () => {
    await a.set(forward(4000));
    const u = client([a.url]);
    try {
      const started = performance.now();
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) {
        outcomes.push(await u.lookup(TABLE, [{ service: 'alias', key: 'user1' }], 5000).then(() => 'answered', (err: { code?: string }) => String(err.code)));
      }
      const total = performance.now() - started;
      assert.ok(total <= 3000, `five lookups took ${total.toFixed(0)} ms (${outcomes.join(', ')})`);
      assert.deepEqual(new Set(outcomes), new Set(['timeout', 'network']));
      const t = performance.now();
      await assert.rejects(u.lookup(TABLE, [{ service: 'alias', key: 'user2' }], 5000), { code: 'network' });
      assert.ok(performance.now() - t < 50, 'an ejected endpoint fails at once');
      assert.deepEqual(u.describe().map((e) => e.ejected), [true]);
    } finally {
      await u.close();
      await a.set(forward());
    }
  });
});
