// What a mail host costs in AWS, counted rather than assumed: a mail
// workload through `cloudtable smtpd` (one process per table, as smtpd
// starts them, spoken to with smtpd's bytes) and `cloudtable sockmap`
// (Postfix's socketmap, several connections) at once, for a few minutes,
// against the local backend, whose billing meter counts what AWS would bill
// (lambda/local/billing.ts). Several tables; keys drawn from a Zipf
// distribution at a 95 % cache hit rate; `auth` checks; one table replaced
// mid-run with `cloudtable load`. Prints dollars per million lookups per
// component at list prices, for one mail host and for 1,000, in cache mode
// (replica.tables = "none") and with replicated tables (replica.tables =
// "auto", one replica store for the host's processes), the same workload
// one after the other, side by side.
//
// `npm run bench -- cost [--duration SECONDS] [--short]` (default 180 s per
// mode; --short: 20 s, to check that it runs).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { COLLECT_EVERY_MINUTES } from '../common/function-sizes.js';
import type { Backend } from '../lambda/local/backend.js';
import type { BillingRow, BillingSnapshot } from '../lambda/local/billing.js';
import { LIST_PRICES, dollars, type Usage } from '../lambda/local/list-prices.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import { TEST_ENV, startTestBackend, testAdminClient } from '../test/helpers/backend.js';
import { runCli } from '../test/helpers/cli.js';
import { isMetricsListening, metricsBase, waitForLog } from '../test/helpers/logs.js';
import { SmtpdPeer, writeConfig } from '../test/helpers/smtpd-peer.js';
import { SockmapClient, startSockmap, type RunningSockmap } from '../test/helpers/sockmap.js';
import { benchOptions } from './lib/options.js';
import { formatNumber, printTable } from './lib/report.js';
import { KeyStream, seededRandom } from './lib/zipf.js';

export const title = 'cost: dollars per million lookups, counted by the backend, for a mail workload through smtpd and sockmap';

const HIT_RATE = 0.95;
const LOOKUPS_PER_SECOND = 100;
const SECONDS_PER_MONTH = 30 * 24 * 3600;
const HOSTS = 1000;
/** How often a table is replaced in the deployment, for the loads' share: the run replaces one, once. */
const REPLACEMENTS_PER_HOUR = 1;
/** A warm reader invocation's billed duration in AWS, for comparison with the local engine's. */
const AWS_TYPICAL_LOOKUP_MS = 20;
/** The proxy's cache TTLs (the defaults), which decide when a cached answer must be asked again. */
const TTL = { foundMs: 300_000, notFoundMs: 60_000 };

interface TableSpec {
  table: string;
  /** How many keys the workload may ask; every other one is in the table. */
  universe: number;
  key: (i: number) => string;
  value: (i: number) => string;
}

const users = (i: number): string => `user${i}`;
const TABLES: Record<string, TableSpec> = {
  aliases: { table: 'aliases', universe: 4000, key: users, value: (i) => `${users(i)}@mail.example.org` },
  virtuals: { table: 'virtuals', universe: 4000, key: (i) => `${users(i)}@d${i % 50}.example.org`, value: (i) => `${users(i)}` },
  domains: { table: 'domains', universe: 200, key: (i) => `d${i}.example.org`, value: () => '' },
  passwd: { table: 'passwd', universe: 300, key: users, value: () => '' },
  recipients: { table: 'recipients', universe: 4000, key: (i) => `${users(i)}@relay.example.net`, value: () => 'OK' },
  transport: { table: 'transport', universe: 200, key: (i) => `t${i}.example.net`, value: (i) => `smtp:[mx${i}.example.net]` },
};

/** One source of lookups: a front end asking one table at `share` of the host's rate. */
interface Stream {
  name: string;
  spec: TableSpec;
  share: number;
  keys: KeyStream;
  ask: (key: string) => Promise<'found' | 'not-found' | 'error'>;
  done: number;
  errors: number;
}

type Mode = 'cache' | 'replica';
const MODES: Record<Mode, string> = { cache: 'cache mode (replica.tables = "none")', replica: 'replicated tables (replica.tables = "auto")' };

export async function run(): Promise<void> {
  const opts = benchOptions();
  const durationS = opts.durationS ?? (opts.short ? 20 : 180);
  const quietS = opts.short ? 10 : 60;
  const totals = new Map<Mode, Totals>();
  for (const mode of ['cache', 'replica'] as const) {
    process.stdout.write(`### ${MODES[mode]}\n\n`);
    totals.set(mode, await measure(mode, durationS, quietS));
    process.stdout.write('\n');
  }
  compare(totals);
}

async function measure(mode: Mode, durationS: number, quietS: number): Promise<Totals> {
  const passwords = (i: number): string => `pw-${i}`;
  // Cost 4 keeps the bench's CPU on the proxy's path rather than in bcrypt; the lookups are the same.
  const hashes = new Map(Array.from({ length: TABLES.passwd!.universe / 2 }, (_, j) => [2 * j, bcrypt.hashSync(passwords(2 * j), 4)]));
  const contents = (spec: TableSpec): Array<[string, string]> => {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < spec.universe; i += 2) out.push([spec.key(i), spec === TABLES.passwd ? hashes.get(i)! : spec.value(i)]);
    return out;
  };
  const backend = await startTestBackend(
    Object.fromEntries(Object.values(TABLES).map((s) => [s.table, contents(s)])),
    // The replaced generation is collected within the run (by the bench, as the schedule would), not kept for undo.
    { collectEveryMs: 0, limits: { keepPreviousMs: 0, graceMs: 2000 } },
  );
  // One replica store for the host: every process of it shares it, as on a mail host.
  const replicaDir = mkdtempSync(join(tmpdir(), 'cloudtable-cost-replicas-'));
  const replicaToml = mode === 'replica' ? `[replica]\ndir = "${replicaDir}"\ntables = "auto"\n` : `[replica]\ntables = "none"\n`;
  const base = `[upstream]\nurl = "${backend.url}"\n[log]\nlevel = "info"\n[metrics]\nlisten = "127.0.0.1:0"\n${replicaToml}`;

  // One `cloudtable smtpd` per table line of smtpd.conf.
  const smtpd = new Map<string, SmtpdPeer>();
  for (const [name, extra] of [['aliases', ''], ['virtuals', ''], ['domains', ''], ['passwd', '[smtpd]\nservices = ["auth", "credentials"]\n']] as const) {
    const peer = new SmtpdPeer([writeConfig(base + extra)]);
    await peer.handshake(name);
    smtpd.set(name, peer);
  }
  const sockmap: RunningSockmap = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', writeConfig(base)]);
  const metricsUrls = [...(await Promise.all([...smtpd.values()].map((p) => p.metricsUrl()))), metricsBase(await waitForLog(() => sockmap.stderr, isMetricsListening))];
  // Postfix's processes each keep a connection; they ask one at a time.
  const conns = await Promise.all(Array.from({ length: 4 }, () => SockmapClient.connect(sockmap.listeners[0]!)));
  let nextConn = 0;
  const idle = [...conns];
  const waitingForConn: Array<(c: SockmapClient) => void> = [];
  const sockmapAsk = async (map: string, key: string): Promise<'found' | 'not-found' | 'error'> => {
    const c = idle.pop() ?? (await new Promise<SockmapClient>((resolve) => waitingForConn.push(resolve)));
    nextConn++;
    try {
      const reply = await c.request(map, key, 30_000);
      return reply.startsWith('OK ') ? 'found' : reply === 'NOTFOUND ' ? 'not-found' : 'error';
    } finally {
      const w = waitingForConn.shift();
      if (w) w(c);
      else idle.push(c);
    }
  };
  const smtpdAsk = (name: string, op: 'lookup' | 'check', service: string) => async (key: string) => {
    const reply = await smtpd.get(name)!.ask(name, op, service, key);
    return reply.startsWith('found') ? 'found' : reply === 'not-found' ? 'not-found' : 'error';
  };

  const random = seededRandom(16);
  const stream = (name: string, spec: TableSpec, share: number, ask: Stream['ask'], keyOf: (i: number) => string = spec.key): Stream => ({
    name,
    spec,
    share,
    keys: new KeyStream(Array.from({ length: spec.universe }, (_, i) => keyOf(i)), 1 - HIT_RATE, TTL, random),
    ask,
    done: 0,
    errors: 0,
  });
  const streams: Stream[] = [
    stream('smtpd aliases (alias)', TABLES.aliases!, 0.25, smtpdAsk('aliases', 'lookup', 'alias')),
    stream('smtpd virtuals (alias)', TABLES.virtuals!, 0.2, smtpdAsk('virtuals', 'lookup', 'alias')),
    stream('smtpd domains (domain)', TABLES.domains!, 0.15, smtpdAsk('domains', 'check', 'domain')),
    stream('smtpd passwd (auth)', TABLES.passwd!, 0.05, smtpdAsk('passwd', 'check', 'auth'), (i) => `${users(i)}:${passwords(i)}`),
    stream('sockmap recipients', TABLES.recipients!, 0.25, (k) => sockmapAsk('recipients', k)),
    stream('sockmap transport', TABLES.transport!, 0.1, (k) => sockmapAsk('transport', k)),
  ];

  // Replicated tables: each is transferred whole at its first lookup (once per host; a restart keeps the store).
  let firstTransfer: BillingSnapshot | undefined;
  if (mode === 'replica') {
    backend.meter.reset();
    const store = new ReplicaStore(replicaDir);
    try {
      const deadline = performance.now() + 60_000;
      while (!Object.values(TABLES).every((t) => store.pointer(t.table) !== undefined)) {
        if (performance.now() > deadline) throw new Error('the tables were not all replicated within 60 s');
        for (const s of streams) await s.ask(s.keys.next(Date.now()).key);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await store.close();
    }
    firstTransfer = backend.meter.snapshot();
  }

  backend.meter.reset();
  const t0 = performance.now();
  const endAt = t0 + durationS * 1000;
  // Each smtpd table process gets one request at a time (smtpd waits for
  // the answer); arrivals are Poisson at the stream's share of the rate.
  const drive = async (s: Stream): Promise<void> => {
    let due = performance.now();
    const rate = LOOKUPS_PER_SECOND * s.share;
    for (;;) {
      due += (-Math.log(1 - random()) / rate) * 1000;
      if (due >= endAt) return;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const { rank, key } = s.keys.next(Date.now());
      const answer = await s.ask(key);
      s.done++;
      if (answer === 'error') s.errors++;
      else s.keys.answered(rank, answer === 'found', Date.now());
    }
  };
  const replaced = replaceMidRun(backend, durationS, streams[0]!);
  await Promise.all(streams.map(drive));
  const elapsedS = (performance.now() - t0) / 1000;
  const replacement = await replaced;
  const lookups = streams.reduce((n, s) => n + s.done, 0);
  const hitRate = await measuredHitRate(metricsUrls);

  // The replaced generation is deleted by the collector: a run of the
  // schedule that finds it (after the grace), and one that finds nothing,
  // for the schedule's fixed cost.
  const admin = testAdminClient(backend.url);
  await admin.gc();
  const workload = backend.meter.snapshot();
  backend.meter.reset();
  await admin.gc();
  const idleRun = backend.meter.snapshot().functions.admin;
  await admin.close();

  // A quiet host: tables in use (asked within the cache TTL), every answer cached, nothing asked.
  for (const s of streams) await s.ask(s.keys.next(Date.now()).key);
  backend.meter.reset();
  await new Promise((r) => setTimeout(r, quietS * 1000));
  const quiet = backend.meter.snapshot();

  for (const c of conns) c.socket.destroy();
  await Promise.all([...smtpd.values()].map((p) => p.close()));
  await sockmap.stop();
  await backend.close();
  rmSync(replicaDir, { recursive: true, force: true });

  return report({ mode, workload, idleRun, quiet, quietS, lookups, elapsedS, hitRate, streams, replacement, durationS, firstTransfer });
}

/** Replaces `aliases` (10 % of the values changed) with `cloudtable load` halfway through; resolves with its wall time. */
async function replaceMidRun(backend: Backend, durationS: number, aliases: Stream): Promise<{ entries: number; seconds: number }> {
  await new Promise((r) => setTimeout(r, (durationS * 1000) / 2));
  const spec = aliases.spec;
  const lines: string[] = [];
  for (let i = 0; i < spec.universe; i += 2) lines.push(`${spec.key(i)} ${i % 20 === 0 ? `moved${i}@mail.example.org` : spec.value(i)}`);
  const file = join(writeConfig('').replace(/cloudtable\.toml$/, ''), 'aliases');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const t0 = performance.now();
  const res = await runCli(['load', 'aliases', file, '--admin', backend.url], TEST_ENV);
  if (res.code !== 0) throw new Error(`cloudtable load failed (${res.code}): ${res.stderr}`);
  // The proxies drop the old generation's answers once they see the new one.
  aliases.keys.forget();
  return { entries: lines.length, seconds: (performance.now() - t0) / 1000 };
}

/** Hits and negative hits over every lookup, from the proxies' own metrics. */
async function measuredHitRate(urls: string[]): Promise<number> {
  let hits = 0;
  let all = 0;
  for (const url of urls) {
    const metrics = (await (await fetch(`${url}/metrics.json`)).json()) as Array<{ name: string; values: Array<{ labels: Record<string, string>; value: number }> }>;
    for (const v of metrics.find((m) => m.name === 'cloudtable_lookups_total')?.values ?? []) {
      all += v.value;
      if (v.labels.result === 'hit' || v.labels.result === 'negative') hits += v.value;
    }
  }
  return hits / all;
}

/**
 * The components of the bill: which function operations each one is, and
 * how each is priced: at what the run counted (`run`), or per replacement
 * of a table at REPLACEMENTS_PER_HOUR (the run replaces one, once), and
 * whether the deployment's hosts share it or each host pays it.
 */
const COMPONENTS: Array<{ name: string; per: 'run' | 'replacement'; shared: boolean; match: (r: BillingRow) => boolean }> = [
  { name: 'lookups (keys asked of the reader)', per: 'run', shared: false, match: (r) => r.function === 'reader' && r.operation === 'lookup' },
  { name: 'generation checks (and replica confirmations)', per: 'run', shared: false, match: (r) => r.function === 'reader' && (r.operation === 'generation' || r.operation === 'generations') },
  { name: 'listings (pattern sets after a generation change; whole transfers of a replica)', per: 'run', shared: false, match: (r) => r.function === 'reader' && (r.operation === 'patterns' || r.operation === 'entries') },
  { name: `replica syncs, incremental (the change log of a replacement, ${REPLACEMENTS_PER_HOUR} an hour, each host)`, per: 'replacement', shared: false, match: (r) => r.function === 'reader' && r.operation === 'changes' },
  { name: `loads (a replacement, and deleting the generation it replaced; ${REPLACEMENTS_PER_HOUR} an hour)`, per: 'replacement', shared: true, match: (r) => r.function === 'admin' },
];

/** What one mode comes to, per component: $ per million lookups for 1 host and for HOSTS. */
interface Totals {
  rows: Array<{ name: string; one: number; many: number }>;
  total1: number;
  totalN: number;
  lookupsPerMonth: number;
  quietMonthly: number;
  firstTransfer?: { invocations: number; dollars: number };
}

function sum(rows: BillingRow[]): Usage & { dollars: number } {
  const u = { invocations: 0, billedMs: 0, readUnits: 0, writeUnits: 0, dollars: 0 };
  for (const r of rows) {
    u.invocations += r.invocations;
    u.billedMs += r.billedMs;
    u.readUnits += r.readUnits;
    u.writeUnits += r.writeUnits;
    u.dollars += r.dollars.total;
  }
  return u;
}

function report(o: {
  mode: Mode;
  workload: BillingSnapshot;
  idleRun: BillingSnapshot['functions']['admin'];
  quiet: BillingSnapshot;
  quietS: number;
  lookups: number;
  elapsedS: number;
  hitRate: number;
  streams: Stream[];
  replacement: { entries: number; seconds: number };
  durationS: number;
  /** Replicated tables: what the whole transfer of every table at its first lookup cost. */
  firstTransfer: BillingSnapshot | undefined;
}): Totals {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  const perMillion = (d: number): number => (d / o.lookups) * 1e6;
  const errors = o.streams.reduce((n, s) => n + s.errors, 0);
  w(`prices: AWS list prices, ${LIST_PRICES.region}, arm64, on demand, before the free tier: Lambda $${(LIST_PRICES.lambdaRequest * 1e6).toFixed(2)} per million requests and $${LIST_PRICES.lambdaGbSecond} per GB-second (reader ${o.workload.memoryMb.reader} MB, admin ${o.workload.memoryMb.admin} MB); DynamoDB $${(LIST_PRICES.readUnit * 1e6).toFixed(3)} per million read request units, $${(LIST_PRICES.writeUnit * 1e6).toFixed(3)} per million write request units`);
  w(`workload: ${formatNumber(o.lookups)} lookups in ${o.elapsedS.toFixed(0)} s (${(o.lookups / o.elapsedS).toFixed(1)}/s) through 4 smtpd table processes and 1 sockmap process (4 connections), 6 tables; measured hit rate (cache or replica) ${(o.hitRate * 100).toFixed(1)} % (the keys drawn for ${HIT_RATE * 100} % cache hits); ${errors} errors; \`aliases\` (${formatNumber(o.replacement.entries)} entries, 10 % changed) replaced at ${o.durationS / 2} s by \`cloudtable load\` in ${o.replacement.seconds.toFixed(1)} s`);
  w('');
  const lookupsPerHour = (o.lookups / o.elapsedS) * 3600;
  const lookupsPerMonth = lookupsPerHour * (SECONDS_PER_MONTH / 3600);
  const rows: Array<Array<string | number>> = [];
  const totals: Totals['rows'] = [];
  const add = (name: string, u: Usage & { dollars: number }, pm: number, shared: boolean, cost: string = usd(u.dollars)): void => {
    rows.push([name, u.invocations, u.billedMs, u.readUnits, u.writeUnits, cost, usd(pm), usd(shared ? pm / HOSTS : pm)]);
    totals.push({ name, one: pm, many: shared ? pm / HOSTS : pm });
  };
  const matched = new Set<BillingRow>();
  for (const c of COMPONENTS) {
    const mine = o.workload.rows.filter(c.match);
    mine.forEach((r) => matched.add(r));
    const u = sum(mine);
    // Priced per replacement, at the stated rate, rather than at one per run.
    add(c.name, u, c.per === 'run' ? perMillion(u.dollars) : ((u.dollars * REPLACEMENTS_PER_HOUR) / lookupsPerHour) * 1e6, c.shared);
  }
  // Anything else the functions served is a component of its own, per host.
  const other = o.workload.rows.filter((r) => !matched.has(r));
  if (other.length > 0) {
    const u = sum(other);
    add(`other: ${other.map((r) => `${r.function} ${r.operation}`).join(', ')}`, u, perMillion(u.dollars), false);
  }
  let firstTransfer: Totals['firstTransfer'];
  if (o.firstTransfer) {
    // Once per host (a restart keeps the store): spread over a month of its lookups.
    const u = sum(o.firstTransfer.rows);
    firstTransfer = { invocations: u.invocations, dollars: u.dollars };
    add('whole transfer of every table at its first lookup (once per host; spread over a month)', u, (u.dollars / lookupsPerMonth) * 1e6, false);
  }
  // The collection schedule runs whatever the traffic: a fixed monthly cost, spread over the lookups of a month.
  const runsPerMonth = SECONDS_PER_MONTH / 60 / COLLECT_EVERY_MINUTES;
  const scheduleMonthly = dollars('admin', { ...o.idleRun, invocations: runsPerMonth * o.idleRun.invocations, billedMs: runsPerMonth * o.idleRun.billedMs, readUnits: runsPerMonth * o.idleRun.readUnits, writeUnits: runsPerMonth * o.idleRun.writeUnits }).total;
  const none = { invocations: 0, billedMs: 0, readUnits: 0, writeUnits: 0, dollars: 0 };
  add(`collection schedule (${formatNumber(runsPerMonth)} runs a month; fixed)`, none, (scheduleMonthly / lookupsPerMonth) * 1e6, true, `${usd(scheduleMonthly)} a month`);
  rows[rows.length - 1]!.splice(1, 4, '–', '–', '–', '–');
  const total1 = totals.reduce((n, r) => n + r.one, 0);
  const totalN = totals.reduce((n, r) => n + r.many, 0);
  rows.push(['**total**', '', '', '', '', '', `**${usd(total1)}**`, `**${usd(totalN)}**`]);
  printTable(['component', 'invocations', 'billed ms', 'read units', 'write units', 'cost in the run', '$ per million lookups, 1 host', `$ per million lookups, ${formatNumber(HOSTS)} hosts`], rows);
  w('');
  w(`per replacement: $/M = (its cost × ${REPLACEMENTS_PER_HOUR} an hour) / (one host's lookups an hour) × 10⁶; a load is the deployment's (shared by the hosts), an incremental sync each host's`);
  w(`${formatNumber(HOSTS)} hosts: $/M(H) = per-host components + (loads + collection schedule) / H = ${usd(totalN)}`);
  const reader = o.workload.functions.reader;
  const perHostNow = totals.filter((r) => r.one === r.many).reduce((n, r) => n + r.one, 0);
  const at = (ms: number): number => perMillion(dollars('reader', { ...reader, billedMs: reader.invocations * ms }).total) + (perHostNow - perMillion(reader.dollars.total));
  w(`reader duration: ${(reader.billedMs / Math.max(1, reader.invocations)).toFixed(1)} ms billed per invocation here (the engine runs in the backend's process, on a machine shared with the proxies and the driver); at ${AWS_TYPICAL_LOOKUP_MS} ms, a warm Lambda reading DynamoDB in its region, the per-host components would be ${usd(at(AWS_TYPICAL_LOOKUP_MS))} per million lookups`);
  w(`per mail host at ${LOOKUPS_PER_SECOND} lookups/s: ${usd((perHostNow / 1e6) * lookupsPerMonth)} a month (per-host components)`);
  const q = o.quiet.functions.reader;
  const quietMonthly = (q.dollars.total / o.quietS) * SECONDS_PER_MONTH;
  w(`quiet host (every table in use, asked within the cache TTL, nothing asked for ${o.quietS} s): ${q.invocations} reader invocations (${formatNumber((q.invocations / o.quietS) * 60)} a minute), ${usd(q.dollars.total)}; ${usd(quietMonthly)} a month if it stayed so`);
  if (firstTransfer) w(`whole transfer of the 6 tables (${formatNumber(Object.values(TABLES).reduce((n, t) => n + t.universe / 2, 0))} entries) at their first lookup: ${firstTransfer.invocations} invocations, ${usd(firstTransfer.dollars)}`);
  return { rows: totals, total1, totalN, lookupsPerMonth, quietMonthly, ...(firstTransfer && { firstTransfer }) };
}

function usd(x: number): string {
  return `$${x < 0.001 ? x.toPrecision(2) : x.toFixed(4)}`;
}

/** Both modes side by side: the same workload, cache mode and replicated tables. */
function compare(totals: Map<Mode, Totals>): void {
  const cache = totals.get('cache')!;
  const replica = totals.get('replica')!;
  const names = [...new Set([...cache.rows, ...replica.rows].map((r) => r.name))];
  const cell = (t: Totals, name: string, k: 'one' | 'many'): string => {
    const r = t.rows.find((x) => x.name === name);
    return r ? usd(r[k]) : '–';
  };
  process.stdout.write(`### cache mode and replicated tables, side by side ($ per million lookups)\n\n`);
  printTable(
    ['component', 'cache mode, 1 host', `cache mode, ${formatNumber(HOSTS)} hosts`, 'replicated, 1 host', `replicated, ${formatNumber(HOSTS)} hosts`],
    [
      ...names.map((n) => [n, cell(cache, n, 'one'), cell(cache, n, 'many'), cell(replica, n, 'one'), cell(replica, n, 'many')]),
      ['**total**', `**${usd(cache.total1)}**`, `**${usd(cache.totalN)}**`, `**${usd(replica.total1)}**`, `**${usd(replica.totalN)}**`],
    ],
  );
  process.stdout.write(`\nquiet host a month: cache mode ${usd(cache.quietMonthly)}, replicated ${usd(replica.quietMonthly)}\n`);
}
