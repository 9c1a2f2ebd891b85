// Misses with one endpoint hung: the reader client as it was (one endpoint,
// every call waits out the deadline) against several endpoints with hedging
// and the slow-call threshold (proxy/upstream/hedged.ts), same run, same
// local backend behind switchable endpoints. Lookups one at a time, as
// smtpd asks; extra requests are the hedges and refreshes beyond one per
// lookup (with one endpoint ejected, most lookups send none: they fail at once).

import { buildConfig } from '../proxy/config.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { HttpUpstream } from '../proxy/upstream/client.js';
import { createHedgedUpstream } from '../proxy/upstream/create.js';
import { TEST_CREDENTIALS, startTestBackend } from '../test/helpers/backend.js';
import { switchableUpstream } from '../test/helpers/fault-servers.js';
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

      // One endpoint with the slow-call threshold: the first misses fail at the threshold, then at once.
      const single = createHedgedUpstream(buildConfig({ upstream: { endpoints: [{ url: hung.url }], deadline_ms: DEADLINE_MS } }), credentials);
      before = hung.hits;
      const t1 = await timed(20, (key) => single.lookup(TABLE, [{ service: 'alias', key }], DEADLINE_MS));
      row('one endpoint, slow-call threshold (errors, fast)', t1, hung.hits - before);
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
    } finally {
      await hung.close();
      await good.close();
      await backend.close();
    }
    printTable(['', 'misses', 'p50 ms', 'p99 ms', 'max ms', 'requests sent', 'extra requests'], rows);
  }
}
