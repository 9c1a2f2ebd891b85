// The smtpd hit path against a plain-Map reference responder, and misses
// through the local backend batched against one HTTP request per key.
// Subject and reference run alternately in the same run; medians of rounds.

import { fileURLToPath } from 'node:url';
import { TEST_ENV, startTestBackend } from '../test/helpers/backend.js';
import { CLI } from '../test/helpers/cli.js';
import { writeConfig } from '../test/helpers/smtpd-peer.js';
import { testConfig, testResolver } from '../test/helpers/resolver.js';
import { percentile, printTable, ratio } from './lib/report.js';
import { StdioDriver } from './lib/stdio-driver.js';

export const title = 'smtpd: hit path vs a plain-Map responder; misses batched vs one request per key';

const KEYS = 1000;
const ROUND_MS = 1500;
const ROUNDS = 3;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const entries: Array<[string, string]> = Array.from({ length: KEYS }, (_, i) => [`key${i}`, `value${i}`]);
  const backend = await startTestBackend({ bench: entries });
  const keys = entries.map(([k]) => k);

  const subject = new StdioDriver(CLI[0], [...CLI.slice(1), 'smtpd', writeConfig(`[upstream]\nurl = "${backend.url}"\n[log]\nlevel = "warn"\n[metrics]\nlisten = "127.0.0.1:0"\n`)], TEST_ENV);
  const reference = new StdioDriver(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./reference/smtpd-map-responder.ts', import.meta.url)), String(KEYS)]);
  for (const d of [subject, reference]) {
    await d.handshake('bench');
    await d.warm('bench', keys);
  }

  const rows: Array<Array<string | number>> = [];
  for (const depth of [1, 100]) {
    const s: number[] = [];
    const r: number[] = [];
    let sLat: number[] = [];
    let rLat: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await subject.run('bench', keys, depth, ROUND_MS);
      const b = await reference.run('bench', keys, depth, ROUND_MS);
      s.push(a.perSecond);
      r.push(b.perSecond);
      sLat = a.latencies;
      rLat = b.latencies;
    }
    rows.push([
      depth === 1 ? '1 in flight (smtpd 7.8)' : `${depth} pipelined`,
      median(s),
      median(r),
      ratio(median(s), median(r)),
      `${percentile(sLat, 50).toFixed(3)} / ${percentile(sLat, 99).toFixed(3)}`,
      `${percentile(rLat, 50).toFixed(3)} / ${percentile(rLat, 99).toFixed(3)}`,
    ]);
  }
  subject.close();
  reference.close();
  printTable(['cache hits', 'cloudtable smtpd lookups/s', 'plain-Map responder lookups/s', 'ratio (target ≥ 0.5×)', 'cloudtable p50/p99 ms', 'reference p50/p99 ms'], rows);

  // Misses: distinct keys, all at once, through the real HTTP client and
  // backend; batched (≤ 100 keys a request) vs batch_max = 1.
  const measure = async (batchMax: number): Promise<{ perSecond: number; requests: number }> => {
    // A fresh resolver per round, so every lookup is a miss; a long deadline,
    // so the slow per-key case is measured rather than cut off.
    const { resolver, upstream } = testResolver(testConfig(backend.url, { upstream: { batch_max: batchMax, deadline_ms: 60_000 } }));
    const t0 = performance.now();
    const answers = await Promise.all(keys.map((k) => resolver.lookup('bench', 'alias', k)));
    const ms = performance.now() - t0;
    const failed = answers.find((a) => a.kind !== 'found');
    if (failed) throw new Error(`miss benchmark: a lookup failed: ${JSON.stringify(failed)}`);
    await resolver.close();
    return { perSecond: (KEYS / ms) * 1000, requests: upstream.requests };
  };
  const batched: number[] = [];
  const single: number[] = [];
  let reqB = 0;
  let reqS = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const b = await measure(100);
    const s = await measure(1);
    batched.push(b.perSecond);
    single.push(s.perSecond);
    reqB = b.requests;
    reqS = s.requests;
  }
  process.stdout.write('\n');
  printTable(
    ['misses (1,000 distinct keys at once, local backend)', 'misses/s', 'HTTP requests', 'ratio (target ≥ 5×)'],
    [
      ['batched (batch_max = 100)', median(batched), reqB, ratio(median(batched), median(single))],
      ['one HTTP request per key (batch_max = 1)', median(single), reqS, '1.00×'],
    ],
  );
  await backend.close();
}
