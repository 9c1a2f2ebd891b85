// The footprint of a `cloudtable smtpd` table process as smtpd starts it:
// the time from spawn to the end of its handshake (smtpd sends no banner
// until every table has finished it), the CPU time it used until then
// (which other work on the machine disturbs less than the wall time), its
// resident memory once idle, and
// (in a separate run, as the counting hook costs memory) the modules it
// loaded. Used by `npm run bench -- footprint` and test/footprint.test.ts.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Footprint {
  handshakeMs: number;
  /** CPU time of every thread of the process from its start to the end of the handshake. */
  cpuMs: number;
  rssBytes: number;
}

/** smtpd 7.8's handshake for table `aliases`. */
const HANDSHAKE = 'config|smtpd-version|7.8.0-portable\nconfig|protocol|0.1\nconfig|tablename|aliases\nconfig|ready\n';

/** Idle time before memory is read: startup garbage has had a chance to go. */
const SETTLE_MS = 1000;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time the threads of `pid` have run so far (Linux schedstat, in ns); threads that ended meanwhile are not counted. */
function cpuMsOf(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e6;
}

/**
 * Starts `argv` (node and its arguments up to `smtpd`), sends the handshake
 * at once, and measures; `whileIdle` runs on the idle process before it is
 * told to exit (its stdin closed, as when smtpd exits).
 */
export async function measureSmtpd(argv: readonly string[], env: NodeJS.ProcessEnv = {}, whileIdle?: (pid: number) => Promise<void>): Promise<Footprint> {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  child.stdin.write(HANDSHAKE);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const [handshakeMs, cpuMs] = await new Promise<[number, number]>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        out += s;
        if (out.includes('register|ready\n')) resolve([performance.now() - started, cpuMsOf(child.pid!)]);
      });
      child.once('exit', (code) => reject(new Error(`exited (${code}) before the handshake ended: ${out}`)));
    });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const rssBytes = rssOf(child.pid!);
    await whileIdle?.(child.pid!);
    return { handshakeMs, cpuMs, rssBytes };
  } finally {
    child.stdin.end();
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    await exited;
  }
}

/** The modules (file URLs) an idle `cloudtable smtpd` has loaded, from a run with the counting hook preloaded. */
export async function modulesOfSmtpd(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-footprint-'));
  const out = join(dir, 'modules.json');
  const hook = new URL('./module-count.mjs', import.meta.url).href;
  try {
    let modules: string[] = [];
    await measureSmtpd([argv[0]!, '--import', hook, ...argv.slice(1)], { ...env, FOOTPRINT_OUT: out }, async (pid) => {
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 100 && modules.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        try {
          modules = JSON.parse(readFileSync(out, 'utf8')) as string[];
        } catch {
          // not written yet
        }
      }
    });
    if (modules.length === 0) throw new Error('the process did not list its modules');
    return modules;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The npm packages among `modules`, with the number of files of each. */
export function packagesOf(modules: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of modules) {
    const p = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1] ?? '(cloudtable)';
    out.set(p, (out.get(p) ?? 0) + 1);
  }
  return out;
}
