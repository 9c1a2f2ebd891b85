// Misses with one endpoint hung: the reader client as it was (one endpoint,
// every call waits out the deadline) against the client every proxy now
// uses (proxy/upstream/hedged.ts): `upstream.url` alone (hedged to a second
// connection pool of it, slow-call threshold) and two endpoints; then one
// endpoint with a few stuck invocations among many, deadline-only against
// hedged. Same run, same local backend behind switchable endpoints. Lookups
// one at a time, as smtpd asks; extra requests are the hedges and refreshes
// beyond one per lookup (with the only endpoint ejected, most lookups send
// none: they fail at once).

import { buildConfig } from '../proxy/config.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { HttpUpstream } from '../proxy/upstream/client.js';
import { createHedgedUpstream } from '../proxy/upstream/create.js';
import { TEST_CREDENTIALS, startTestBackend } from '../test/helpers/backend.js';
import { forward, switchableUpstream } from '../test/helpers/fault-servers.js';
import { percentile, printTable } from './lib/report.js';

const TABLE = 'aliases';
const KEYS = Array.from({ length: 100 }, (_, i) => `user${i}`);
const DEADLINE_MS = 5000;

async function timed(n: number, call: (key: string) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(KEYS[i % KEYS.length]!).catch(() => undefined);
    out.push(performance.now() - t);
  }
  return out;
}

export const title = 'misses with one endpoint hung';

export async function run(): Promise<void> {
  {
    const backend = await startTestBackend({ [TABLE]: KEYS.map((k) => [k, `${k}@example.org`] as const) });
    const hung = await switchableUpstream({ kind: 'silent' });
    const good = await switchableUpstream({ kind: 'forward', to: backend.url });
    const credentials = () => Promise.resolve(TEST_CREDENTIALS);
    const rows: Array<Array<string | number>> = [];
    const row = (what: string, times: number[], requests: number) =>
      rows.push([what, times.length, percentile(times, 50).toFixed(1), percentile(times, 99).toFixed(1), Math.max(...times).toFixed(1), requests, `${(Math.max(0, requests - times.length) / times.length * 100).toFixed(1)} %`]);
    try {
      // Before: one endpoint, the plain client; each miss waits the deadline.
      const config = buildConfig({ upstream: { url: hung.url, deadline_ms: DEADLINE_MS } });
      const plain = new HttpUpstream(config.upstream, new RequestSigner('local-1', credentials));
      let before = hung.hits;
      const t0 = await timed(3, (key) => plain.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS));
      row('one endpoint, as before (deadline 5 s)', t0, hung.hits - before);
      await plain.close();

      // `upstream.url` alone, as now: hedged to a second pool of the same endpoint; the first misses fail at the threshold, then at once.
      const single = createHedgedUpstream(buildConfig({ upstream: { url: hung.url, deadline_ms: DEADLINE_MS } }), credentials);
      before = hung.hits;
      const t1 = await timed(20, (key) => single.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS));
      row('one endpoint (upstream.url), hedged to a 2nd pool + slow-call threshold (errors, fast)', t1, hung.hits - before);
      await single.close();

      // Two endpoints, one hung: hedged to the other, which then takes the misses.
      const two = createHedgedUpstream(
        buildConfig({ upstream: { endpoints: [{ url: hung.url, region: 'local-1' }, { url: good.url, region: 'local-2' }], deadline_ms: DEADLINE_MS } }),
        credentials,
      );
      before = hung.hits + good.hits;
      const t2 = await timed(1000, (key) => two.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS));
      row('two endpoints, hedging + slow-call threshold', t2, hung.hits + good.hits - before);
      await two.close();

      // One endpoint answering, but 2 invocations of 300 never do (a stuck execution environment).
      let n = 0;
      let stuck = new Set<number>();
      const flaky = await switchableUpstream({
        kind: 'http',
        handle: (req, body, res) => {
          if (stuck.has(++n)) return;
          void forward(backend.url, req, body, res);
        },
      });
      try {
        const flakyConfig = buildConfig({ upstream: { url: flaky.url, deadline_ms: DEADLINE_MS } });
        for (const [what, client] of [
          ['one endpoint, 2 of 300 stuck, as before (deadline 5 s)', new HttpUpstream(flakyConfig.upstream, new RequestSigner('local-1', credentials))],
          ['one endpoint, 2 of 300 stuck, hedged to a 2nd pool', createHedgedUpstream(flakyConfig, credentials)],
        ] as const) {
          await timed(20, (key) => client.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS)); // warm: the hedge delay learns the latency
          stuck = new Set([n + 100, n + 200]);
          before = flaky.hits;
          const t = await timed(300, (key) => client.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS));
          row(what, t, flaky.hits - before);
          await client.close();
        }
      } finally {
        await flaky.close();
      }
    } finally {
      await hung.close();
      await good.close();
      await backend.close();
    }
    printTable(['', 'misses', 'p50 ms', 'p99 ms', 'max ms', 'requests sent', 'extra requests'], rows);
  }
}
