// `npm run bench -- footprint`: what one `cloudtable smtpd` table process
// costs (smtpd starts one per `table` line): handshake time from spawn, CPU
// time until then, idle resident memory, modules loaded; next to a bare
// Node process that answers the same handshake, the floor any Node table
// process pays. Runs the installed bin (dist/, the one CommonJS file of
// scripts/bundle-table-process.ts), built first, as
// smtpd runs it (`table-cloudtable CONFIG`), on a host without a replica
// store, on one with a store (which an idle process with replica.tables =
// "auto" does not open), and once it has called the function (a table
// named in replica.tables: the store opens right after the handshake and a
// transfer is tried at once), what a process in use holds.
// The variants take turns, run after run, so load on the machine falls on
// each alike. FOOTPRINT_BASELINE=DIR adds the dist/ of another checkout
// (built there), for a before/after in the same run.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplicaStore } from '../proxy/replica/store.js';
import { measureSmtpd, modulesOfSmtpd, packagesOf, type Footprint } from './lib/footprint.js';
import { benchOptions } from './lib/options.js';
import { formatNumber, percentile, printTable } from './lib/report.js';

export const title = 'footprint of a cloudtable smtpd table process';

const root = fileURLToPath(new URL('../', import.meta.url));

/** A Node process that answers the handshake and nothing else. */
const BARE = [
  process.execPath,
  '-e',
  "process.stdin.on('data', (d) => { if (String(d).includes('config|ready')) process.stdout.write('register|alias\\nregister|ready\\n'); }); process.stdin.on('end', () => process.exit(0));",
];

const ENV = { AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench' };

interface Variant {
  name: string;
  argv: string[];
  samples: Footprint[];
}

export async function run(): Promise<void> {
  const runs = benchOptions().short ? 5 : 15;
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-footprint-'));
  try {
    // A host without a replica store yet, and one with a store (empty: what opening it costs).
    const config = async (name: string, withStore: boolean, tables = '"auto"'): Promise<string> => {
      const replicas = join(dir, `${name}-replicas`);
      if (withStore) await new ReplicaStore(replicas).close();
      const path = join(dir, `${name}.toml`);
      writeFileSync(path, `[upstream]\nurl = "http://127.0.0.1:9"\n[replica]\ndir = "${replicas}"\ntables = ${tables}\n`);
      return path;
    };
    // The installed bin (one CommonJS file since scripts/bundle-table-process.ts), or the ES module one of an older build.
    const bin = (distDir: string): string => [join(distDir, 'proxy/bin/table-cloudtable.cjs'), join(distDir, 'proxy/bin/table-cloudtable.js')].find((p) => existsSync(p))!;
    const variants: Variant[] = [
      { name: 'bare node answering the handshake', argv: BARE, samples: [] },
      { name: 'cloudtable smtpd (dist/), no replica store', argv: [process.execPath, bin(join(root, 'dist')), await config('plain', false)], samples: [] },
      { name: 'cloudtable smtpd (dist/), a replica store on the host', argv: [process.execPath, bin(join(root, 'dist')), await config('store', true)], samples: [] },
      { name: 'cloudtable smtpd (dist/), after a first call to the function, the store open', argv: [process.execPath, bin(join(root, 'dist')), await config('open', true, '["aliases"]')], samples: [] },
    ];
    const baseline = process.env.FOOTPRINT_BASELINE;
    if (baseline) variants.push({ name: `baseline ${baseline}, no replica store`, argv: [process.execPath, bin(baseline), await config('baseline', false)], samples: [] });
    const modules = new Map<Variant, string[]>();
    for (const v of variants.slice(1)) modules.set(v, await modulesOfSmtpd(v.argv, ENV));
    for (let i = 0; i < runs; i++) for (const v of variants) v.samples.push(await measureSmtpd(v.argv, ENV));

    const p50 = (v: Variant, k: keyof Footprint): number => percentile(v.samples.map((s) => s[k]), 50);
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB (${(b / 1e6).toFixed(1)} MB)`;
    printTable(
      ['process', `handshake p50 of ${runs} (ms)`, 'CPU until the handshake, p50 (ms)', 'idle RSS p50', 'modules loaded'],
      variants.map((v) => [v.name, formatNumber(p50(v, 'handshakeMs')), formatNumber(p50(v, 'cpuMs')), mib(p50(v, 'rssBytes')), String(modules.get(v)?.length ?? 1)]),
    );
    const bare = variants[0]!;
    const ours = variants[1]!;
    process.stdout.write(`\nover bare node: handshake +${formatNumber(p50(ours, 'handshakeMs') - p50(bare, 'handshakeMs'))} ms, CPU +${formatNumber(p50(ours, 'cpuMs') - p50(bare, 'cpuMs'))} ms, RSS +${((p50(ours, 'rssBytes') - p50(bare, 'rssBytes')) / 2 ** 20).toFixed(1)} MiB\n`);
    for (const v of variants.slice(1)) {
      const packages = [...packagesOf(modules.get(v)!)].sort((a, b) => b[1] - a[1]);
      process.stdout.write(`modules by package, ${v.name}: ${packages.map(([p, n]) => `${p} ${n}`).join(', ')}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
