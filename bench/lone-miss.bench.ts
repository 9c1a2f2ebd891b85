// smtpd asks one key at a time, so its misses never share a batch: what a
// lone miss costs in latency with batch windows of 0, 1 and 10 ms, in the
// resolver (how long the miss waited before its HTTP request went out, and
// its answer time, through the real HTTP client and the local backend) and
// through `cloudtable smtpd`. A miss with nothing to join goes out at once,
// so the window should not show in these figures. Rounds alternate between
// the windows; medians of rounds.

import { TEST_ENV, startTestBackend } from '../test/helpers/backend.js';
import { CLI } from '../test/helpers/cli.js';
import { writeConfig } from '../test/helpers/smtpd-peer.js';
import { testConfig, testResolver } from '../test/helpers/resolver.js';
import { percentile, printTable } from './lib/report.js';
import { StdioDriver } from './lib/stdio-driver.js';

export const title = 'lone misses: smtpd latency of a miss with batch windows of 0, 1 and 10 ms';

const WINDOWS = [0, 1, 10];
const MISSES = 300;
const ROUNDS = 5;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const entries: Array<[string, string]> = Array.from({ length: MISSES * ROUNDS }, (_, i) => [`key${i}`, `value${i}`]);
  const backend = await startTestBackend({ bench: entries });
  const drivers = WINDOWS.map(
    (w) =>
      new StdioDriver(
        CLI[0],
        [...CLI.slice(1), 'smtpd', writeConfig(`[upstream]\nurl = "${backend.url}"\nbatch_window_ms = ${w}\n[log]\nlevel = "warn"\n`)],
        TEST_ENV,
      ),
  );
  for (const d of drivers) await d.handshake('bench');
  // In process: the wait before the request went out, and the answer time.
  const waits = WINDOWS.map((): number[] => []);
  const answers = WINDOWS.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, w] of WINDOWS.entries()) {
      const { resolver, upstream } = testResolver(testConfig(backend.url, { upstream: { batch_window_ms: w } }));
      const wait: number[] = [];
      const answer: number[] = [];
      for (const [k] of entries.slice(0, MISSES)) {
        const t0 = performance.now();
        const a = await resolver.lookup('bench', 'alias', k);
        answer.push(performance.now() - t0);
        wait.push(upstream.sentAt[upstream.sentAt.length - 1]! - t0);
        if (a.kind !== 'found') throw new Error(`lone miss: ${JSON.stringify(a)}`);
      }
      await resolver.close();
      waits[i]!.push(percentile(wait, 50));
      answers[i]!.push(percentile(answer, 50));
    }
  }
  printTable(
    ['batch_window_ms', 'resolver: wait before sending, p50 ms', 'resolver: miss answered, p50 ms'],
    WINDOWS.map((w, i) => [String(w), median(waits[i]!).toFixed(3), median(answers[i]!).toFixed(3)]),
  );
  process.stdout.write('\n');

  const p50 = WINDOWS.map((): number[] => []);
  const p99 = WINDOWS.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    // Keys no process has asked yet: every lookup is a miss, one in flight.
    const keys = entries.slice(round * MISSES, (round + 1) * MISSES).map(([k]) => k);
    for (const [i, d] of drivers.entries()) {
      const { latencies } = await d.runOnce('bench', keys);
      p50[i]!.push(percentile(latencies, 50));
      p99[i]!.push(percentile(latencies, 99));
    }
  }
  for (const d of drivers) d.close();
  await backend.close();
  printTable(
    ['batch_window_ms', `cloudtable smtpd: miss p50 ms (${MISSES} distinct keys, 1 in flight)`, 'miss p99 ms'],
    WINDOWS.map((w, i) => [String(w), median(p50[i]!).toFixed(3), median(p99[i]!).toFixed(3)]),
  );
}
