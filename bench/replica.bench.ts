// Replicas: the hit path of a replicated table (answered from the host's
// LMDB store) against the plain-Map references, through `cloudtable smtpd`
// (stdio) and `cloudtable sockmap` (netstrings), in the same run; then
// transfers of a table (whole, and a 1 % change incrementally) from the
// local backend over HTTP into a fresh store: seconds, bytes received, bytes
// of pages; then memory: 9 `cloudtable smtpd` and one `cloudtable sockmap`
// serving one table from a replica against the same processes holding it in
// their answer caches, total PSS (/proc/PID/smaps_rollup).
// Sizes: REPLICA_BENCH_SIZES (default 100000,1000000) and
// REPLICA_BENCH_MEMORY (default 1000000) entries; REPLICA_BENCH_PARTS
// (default hit,transfers,memory) runs some of the three;
// REPLICA_BENCH_CACHE_UP_TO skips the cache path of larger memory sizes. The subject
// processes get REPLICA_BENCH_NODE_OPTIONS to profile them (bench/lib/cpu-profile.mjs).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../lambda/local/backend.js';
import { Transactions } from '../lambda/store/transaction.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import { fullSync, incrementalSync } from '../proxy/replica/sync.js';
import { TEST_ENV, startTestBackend, testReader } from '../test/helpers/backend.js';
import { CLI } from '../test/helpers/cli.js';
import { writeConfig } from '../test/helpers/smtpd-peer.js';
import { attach, startSockmap, type RunningSockmap } from '../test/helpers/sockmap.js';
import { SocketmapLoad } from './lib/netstring-driver.js';
import { percentile, printTable, ratio } from './lib/report.js';
import { StdioDriver } from './lib/stdio-driver.js';

export const title = 'replicas: hit path vs plain-Map references; transfers; memory of 10 processes';

const KEYS = 1000;
const ROUND_MS = 1500;
const ROUNDS = 3;
const MiB = 2 ** 20;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (xs: number[]): string => `${percentile(xs, 50).toFixed(3)} / ${percentile(xs, 99).toFixed(3)}`;
/** The environment of the processes measured: what the tests use, plus REPLICA_BENCH_NODE_OPTIONS. */
const SUBJECT_ENV: NodeJS.ProcessEnv = { ...TEST_ENV, ...(process.env.REPLICA_BENCH_NODE_OPTIONS && { NODE_OPTIONS: process.env.REPLICA_BENCH_NODE_OPTIONS }) };
const sizes = (name: string, dflt: string): number[] => (process.env[name] ?? dflt).split(',').filter(Boolean).map(Number);

/** A configuration whose tables are answered from a replica in `dir`. */
function replicaConfig(url: string, dir: string, extra = '', deadlineMs = 5000): string {
  return writeConfig(`[upstream]\nurl = "${url}"\ndeadline_ms = ${deadlineMs}\n[replica]\ndir = "${dir}"\ntables = "auto"\n[log]\nlevel = "warn"\n${extra}`);
}

async function until(ok: () => boolean, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Replaces a table through the admin transaction, change log included, with a lease long enough for a big send. */
async function load(backend: Backend, table: string, entries: Array<readonly [string, string]>): Promise<void> {
  const txns = new Transactions(backend.store, { leaseMs: 3_600_000 });
  const b = await txns.begin(table, { service: 'alias', owner: 'bench' });
  for (let i = 0; i < entries.length; i += 10_000) {
    const batch = entries.slice(i, i + 10_000);
    await txns.send(table, b.txn, () => ({ accepted: batch, rejected: [] }));
  }
  const v = await txns.validate(table, b.txn, entries.length);
  if (!v.ok) throw new Error(`load of ${table}: ${v.problem ?? 'invalid'}`);
  await txns.apply(table, b.txn);
  await txns.commit(table, b.txn);
}

async function hitPath(backend: Backend, keys: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-bench-replica-'));
  const store = new ReplicaStore(dir);
  const config = replicaConfig(backend.url, dir);
  const subject = new StdioDriver(CLI[0], [...CLI.slice(1), 'smtpd', config], SUBJECT_ENV);
  const reference = new StdioDriver(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./reference/smtpd-map-responder.ts', import.meta.url)), String(KEYS)]);
  for (const d of [subject, reference]) await d.handshake('bench');
  await subject.warm('bench', keys.slice(0, 1));
  await until(() => store.pointer('bench') !== undefined);
  for (const d of [subject, reference]) await d.warm('bench', keys);
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
    rows.push([`smtpd, ${depth === 1 ? '1 in flight (smtpd 7.8)' : `${depth} pipelined`}`, median(s), median(r), ratio(median(s), median(r)), ms(sLat), ms(rLat)]);
  }
  subject.close();
  reference.close();

  const servers: RunningSockmap[] = [
    await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config], { env: SUBJECT_ENV }),
    await attach(spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./reference/sockmap-map-server.ts', import.meta.url)), String(KEYS)], { stdio: ['pipe', 'pipe', 'pipe'] }), 1),
  ];
  const [sub, ref] = servers.map((x) => x.listeners[0]!) as [string, string];
  for (const shape of [
    { label: 'sockmap, 1 connection, 1 in flight', connections: 1, depth: 1 },
    { label: 'sockmap, 1 connection, 64 pipelined', connections: 1, depth: 64 },
  ]) {
    const loads = await Promise.all([sub, ref].map((a) => SocketmapLoad.connect(a, shape.connections, 'bench', keys)));
    for (const l of loads) await l.warm();
    const rate: [number[], number[]] = [[], []];
    const lat: [number[], number[]] = [[], []];
    for (let i = 0; i < ROUNDS; i++) {
      for (const j of [0, 1] as const) {
        const res = await loads[j]!.saturate(shape.depth, ROUND_MS);
        rate[j].push(res.perSecond);
        lat[j] = res.latencies;
      }
    }
    for (const l of loads) l.close();
    rows.push([shape.label, median(rate[0]), median(rate[1]), ratio(median(rate[0]), median(rate[1])), ms(lat[0]), ms(lat[1])]);
  }
  await Promise.all(servers.map((x) => x.stop()));
  await store.close();
  process.stdout.write('\n');
  printTable(['replica hits (1,000 keys)', 'cloudtable lookups/s', 'plain-Map reference lookups/s', 'ratio (target ≥ 0.8×)', 'cloudtable p50/p99 ms', 'reference p50/p99 ms'], rows);
}

async function transfers(backend: Backend): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const n of sizes('REPLICA_BENCH_SIZES', '100000,1000000')) {
    const table = `sync${n}`;
    const v1: Array<[string, string]> = Array.from({ length: n }, (_, i) => [`user${i}@example.org`, `mailbox${i}@example.net`]);
    let t0 = performance.now();
    await load(backend, table, v1);
    process.stdout.write(`transfers, ${n} entries: loaded into the backend in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    const reader = testReader(backend.url);
    const store = new ReplicaStore(mkdtempSync(join(tmpdir(), 'cloudtable-bench-replica-')));
    const o = { timeoutMs: 120_000, leaseMs: 600_000 };
    const full = await fullSync(store, reader, table, o);
    const pages = store.tableBytes(table, store.record(table)!.slot);
    rows.push([`${n.toLocaleString('en-US')} entries, whole`, full.entries, (full.ms / 1000).toFixed(2), (full.bytes / MiB).toFixed(1), (pages / MiB).toFixed(1)]);
    process.stdout.write(`transfers: ${rows.at(-1)!.join(' | ')}\n`);
    t0 = performance.now();
    const v2 = new Map(v1);
    for (let i = 0; i < n / 100; i++) v2.set(`user${i * 97 % n}@example.org`, `changed${i}@example.net`);
    await load(backend, table, [...v2]);
    process.stdout.write(`transfers, ${n} entries: 1 % changed in the backend in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    const inc = await incrementalSync(store, reader, table, store.record(table)!, o);
    if (!inc) throw new Error('no change log kept for a 1 % change');
    rows.push([`${n.toLocaleString('en-US')} entries, 1 % changed, incremental`, inc.entries, (inc.ms / 1000).toFixed(2), (inc.bytes / MiB).toFixed(2), (store.tableBytes(table, store.record(table)!.slot) / MiB).toFixed(1)]);
    await store.close();
    await reader.close();
  }
  process.stdout.write('\n');
  printTable(['transfer from the local backend', 'entries', 'seconds', 'MiB received', 'MiB of pages'], rows);
}

function pss(pid: number): number {
  const m = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? NaN) * 1024;
}

/** Lookups outstanding per process while every key is asked once (bounded: a window, then the next). */
const WARM_WINDOW = 2000;

async function memory(backend: Backend): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const n of sizes('REPLICA_BENCH_MEMORY', '1000000')) {
    const table = `mem${n}`;
    const entries: Array<[string, string]> = Array.from({ length: n }, (_, i) => [`user${i}@example.org`, `mailbox${i}, archive@example.org`]);
    let t0 = performance.now();
    await load(backend, table, entries);
    process.stdout.write(`memory, ${n} entries: loaded into the backend in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    const keys = entries.map(([k]) => k);
    const totals: number[] = [];
    // Filling ten answer caches with every key costs ten times the misses through the backend (dynalite: minutes per 100,000).
    const modes = n <= Number(process.env.REPLICA_BENCH_CACHE_UP_TO ?? Infinity) ? (['replica', 'cache'] as const) : (['replica'] as const);
    for (const mode of modes) {
      t0 = performance.now();
      const dir = mkdtempSync(join(tmpdir(), 'cloudtable-bench-replica-'));
      // Ten processes' misses queue at the one local backend: a slow answer there is the bench's own load, not an outage.
      const extra = `[cache]\nmax_entries = ${n * 2}\nmax_bytes = ${2 ** 32}\n[breaker]\nslow_call_ms = 60000\nfailures = 1000\n` + (mode === 'cache' ? `[tables.${table}]\nreplica = false\n` : '');
      const config = replicaConfig(backend.url, dir, extra, 60_000);
      const store = new ReplicaStore(dir);
      const smtpds: StdioDriver[] = [];
      for (let i = 0; i < 9; i++) {
        const d = new StdioDriver(CLI[0], [...CLI.slice(1), 'smtpd', config], SUBJECT_ENV);
        await d.handshake(table);
        smtpds.push(d);
      }
      const sockmap = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config], { env: SUBJECT_ENV });
      const driver = await SocketmapLoad.connect(sockmap.listeners[0]!, 1, table, keys);
      if (mode === 'replica') {
        await smtpds[0]!.warm(table, keys.slice(0, 1)).catch(() => undefined);
        await until(() => store.pointer(table) !== undefined, 600_000);
      }
      // Every process answers every key once, pipelined: the cache path then holds them all, the replica path has read them.
      // Misses go to the one local backend: fewer at once, so that none waits past its deadline.
      const window = mode === 'cache' ? WARM_WINDOW / 10 : WARM_WINDOW;
      await Promise.all([...smtpds.map((d) => d.warm(table, keys, window)), driver.warm(window)]);
      driver.close();
      // REPLICA_BENCH_SETTLE_S: measured after that long idle (V8 collects garbage once allocation stops), else at once.
      await new Promise((r) => setTimeout(r, Number(process.env.REPLICA_BENCH_SETTLE_S ?? 0) * 1000));
      totals.push([...smtpds.map((d) => d.pid), sockmap.child.pid!].reduce((sum, pid) => sum + pss(pid), 0));
      process.stdout.write(`memory, ${n} entries, ${mode}: every process warmed in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      for (const d of smtpds) d.close();
      await sockmap.stop('SIGKILL');
      await store.close();
    }
    rows.push([`${n.toLocaleString('en-US')} entries, replicated (one LMDB store)`, (totals[0]! / MiB).toFixed(0), totals[1] === undefined ? 'not run' : ratio(totals[0]!, totals[1])]);
    if (totals[1] !== undefined) rows.push([`${n.toLocaleString('en-US')} entries, cache path (each process its own cache)`, (totals[1] / MiB).toFixed(0), '1.00×']);
  }
  process.stdout.write('\n');
  printTable(['9 cloudtable smtpd + 1 cloudtable sockmap, every key looked up', 'total PSS MiB', 'ratio (target < 0.5×)'], rows);
}

export async function run(): Promise<void> {
  const parts = (process.env.REPLICA_BENCH_PARTS ?? 'hit,transfers,memory').split(',');
  const entries: Array<[string, string]> = Array.from({ length: KEYS }, (_, i) => [`key${i}`, `value${i}`]);
  const backend = await startTestBackend({ bench: entries }, { collectEveryMs: 0 });
  if (parts.includes('hit')) await hitPath(backend, entries.map(([k]) => k));
  if (parts.includes('transfers')) await transfers(backend);
  if (parts.includes('memory')) await memory(backend);
  process.stdout.write('\n');
  await backend.close();
}
