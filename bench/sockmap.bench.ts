// Cache hits through `cloudtable sockmap` against a plain-Map netstring
// server, both separate Node processes on 127.0.0.1, driven by this one:
// throughput with 1 and with 64 pipelining connections, and latency at a
// fixed offered load. Subject and reference alternate in rounds; medians.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestBackend } from '../test/helpers/backend.js';
import { attach, startSockmap, type RunningSockmap } from '../test/helpers/sockmap.js';
import { writeConfig } from '../test/helpers/smtpd-peer.js';
import { SocketmapLoad } from './lib/netstring-driver.js';
import { percentile, printTable, ratio } from './lib/report.js';

export const title = 'sockmap: cache hits vs a plain-Map netstring server';

const KEYS = 1000;
const ROUND_MS = 1500;
const ROUNDS = 3;
const PACED_RATE = 5000;
const PACED_MS = 2000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (xs: number[]): string => `${percentile(xs, 50).toFixed(3)} / ${percentile(xs, 99).toFixed(3)}`;

const SHAPES = [
  { label: '1 connection, 1 in flight (how Postfix and Sendmail ask)', connections: 1, depth: 1 },
  { label: '1 connection, 64 pipelined', connections: 1, depth: 64 },
  { label: '64 connections, 16 pipelined each', connections: 64, depth: 16 },
];

export async function run(): Promise<void> {
  const entries: Array<[string, string]> = Array.from({ length: KEYS }, (_, i) => [`key${i}`, `value${i}`]);
  const keys = entries.map(([k]) => k);
  const backend = await startTestBackend({ bench: entries });
  const servers: RunningSockmap[] = [
    await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', writeConfig(`[upstream]\nurl = "${backend.url}"\n[log]\nlevel = "warn"\n`)]),
    await attach(
      spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./reference/sockmap-map-server.ts', import.meta.url)), String(KEYS)], { stdio: ['pipe', 'pipe', 'pipe'] }),
      1,
    ),
  ];
  const [subject, reference] = servers.map((s) => s.listeners[0]!) as [string, string];

  const rows: Array<Array<string | number>> = [];
  for (const shape of SHAPES) {
    const loads = await Promise.all([subject, reference].map((a) => SocketmapLoad.connect(a, shape.connections, 'bench', keys)));
    for (const l of loads) await l.warm();
    const rate: [number[], number[]] = [[], []];
    const lat: [number[], number[]] = [[], []];
    for (let i = 0; i < ROUNDS; i++) {
      for (const j of [0, 1] as const) {
        const r = await loads[j]!.saturate(shape.depth, ROUND_MS);
        rate[j].push(r.perSecond);
        lat[j] = r.latencies;
      }
    }
    for (const l of loads) l.close();
    rows.push([shape.label, median(rate[0]), median(rate[1]), ratio(median(rate[0]), median(rate[1])), ms(lat[0]), ms(lat[1])]);
  }
  printTable(['cache hits', 'cloudtable sockmap lookups/s', 'plain-Map server lookups/s', 'ratio (target ≥ 0.5×)', 'cloudtable p50/p99 ms', 'reference p50/p99 ms'], rows);

  // Latency at a fixed offered load, well below either's capacity.
  const paced: number[][] = [];
  for (const a of [subject, reference]) {
    const load = await SocketmapLoad.connect(a, 16, 'bench', keys);
    await load.warm();
    paced.push(await load.paced(PACED_RATE, PACED_MS));
    load.close();
  }
  process.stdout.write('\n');
  printTable(
    [`fixed load: ${PACED_RATE.toLocaleString('en-US')} lookups/s over 16 connections for ${PACED_MS / 1000} s`, 'p50 ms', 'p99 ms', 'max ms'],
    [
      ['cloudtable sockmap', percentile(paced[0]!, 50).toFixed(3), percentile(paced[0]!, 99).toFixed(3), percentile(paced[0]!, 100).toFixed(3)],
      ['plain-Map server', percentile(paced[1]!, 50).toFixed(3), percentile(paced[1]!, 99).toFixed(3), percentile(paced[1]!, 100).toFixed(3)],
    ],
  );

  await Promise.all(servers.map((s) => s.stop()));
  await backend.close();
}
