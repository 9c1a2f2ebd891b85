// `npm run bench -- footprint`: what one `cloudtable smtpd` table process
// costs (smtpd starts one per `table` line): handshake time from spawn,
// idle resident memory, modules loaded; next to a bare Node process that
// answers the same handshake, the floor any Node table process pays.
// Runs the compiled dist/ (as installed), built first.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureSmtpd, modulesOfSmtpd, packagesOf } from './lib/footprint.js';
import { formatNumber, percentile, printTable } from './lib/report.js';

export const title = 'footprint of a cloudtable smtpd table process';

const root = fileURLToPath(new URL('../', import.meta.url));
const RUNS = 7;

/** A Node process that answers the handshake and nothing else. */
const BARE = [
  process.execPath,
  '-e',
  "process.stdin.on('data', (d) => { if (String(d).includes('config|ready')) process.stdout.write('register|alias\\nregister|ready\\n'); }); process.stdin.on('end', () => process.exit(0));",
];

async function sample(argv: string[]): Promise<{ handshake: number; rss: number }> {
  const hs: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const f = await measureSmtpd(argv, { AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench' });
    hs.push(f.handshakeMs);
    rss.push(f.rssBytes);
  }
  return { handshake: percentile(hs, 50), rss: percentile(rss, 50) };
}

export async function run(): Promise<void> {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  const smtpd = [process.execPath, `${root}dist/proxy/bin/table-cloudtable.js`];
  const modules = await modulesOfSmtpd(smtpd);
  const bare = await sample(BARE);
  const ours = await sample(smtpd);
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  printTable(
    ['process', `handshake p50 of ${RUNS} (ms)`, 'idle RSS p50', 'modules loaded'],
    [
      ['bare node answering the handshake', formatNumber(bare.handshake), mib(bare.rss), '1'],
      ['cloudtable smtpd (dist/)', formatNumber(ours.handshake), mib(ours.rss), String(modules.length)],
    ],
  );
  const packages = [...packagesOf(modules)].sort((a, b) => b[1] - a[1]);
  process.stdout.write(`\nmodules by package: ${packages.map(([p, n]) => `${p} ${n}`).join(', ')}\n`);
}
