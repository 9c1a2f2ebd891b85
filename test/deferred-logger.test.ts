// The logger loads pino at the first line that passes its level, on the
// next turn of the event loop (a table process answers smtpd's handshake
// first): lines logged before then are written in order, with the time
// they were logged, redacted like the others, and not lost when the
// process exits at once; a silent logger never loads pino at all. A
// stderr whose reader has gone (EPIPE) drops the lines and never keeps a
// process from answering or from exiting.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { spawnCli } from './helpers/cli.js';

const LOG = new URL('../proxy/log.ts', import.meta.url).href;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const src = (body: string): string => `import { createRequire } from 'node:module';
import { createLogger, silentLogger } from '${LOG}';
const pinoLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/pino/'));
${body}`;

/**
 * The write end of a pipe whose reader has gone, as a shell gives a
 * process piped into a pager that quit (a child's 'pipe' stdio is a
 * socket, and fails differently): a FIFO opened at both ends, its read
 * end closed once the child holds the write end.
 */
function brokenPipe(): { fd: number; breakIt: () => void } {
  const fifo = join(mkdtempSync(join(tmpdir(), 'cloudtable-epipe-')), 'stderr');
  spawnSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const fd = openSync(fifo, constants.O_WRONLY);
  return {
    fd,
    breakIt: () => {
      closeSync(reader);
      closeSync(fd);
    },
  };
}

/** Resolves with the exit code of a child, or rejects after `ms`. */
function exitWithin(child: ReturnType<typeof spawn>, ms: number): Promise<number | null> {
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  return once(child, 'exit').then(([code, signal]) => {
    clearTimeout(timer);
    if (signal === 'SIGKILL') throw new Error(`still running after ${ms} ms`);
    return code as number | null;
  });
}

/** Runs `body` as an ES module in a fresh process (with `createLogger`, `silentLogger` and `pinoLoaded()` in scope). */
function run(body: string): { status: number | null; stdout: string; lines: Array<Record<string, unknown>> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src(body)], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  const lines = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, stdout: r.stdout, lines };
}

describe('the deferred logger', () => {
  it('loads pino on the next turn, then writes what waited, in order, at the time it was logged, redacted', () => {
    const r = run(`
const log = createLogger('info', 'test');
const t0 = Date.now();
log.debug('below the level');
log.info({ table: 'aliases', key: 'user:secret' }, 'first');
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(JSON.stringify({ t0, loadedAtOnce: false }) + '\\n');
log.warn('second');
log.flush();
`);
    assert.equal(r.status, 0);
    assert.deepEqual(r.lines.map((l) => [l.level, l.msg]), [
      [30, 'first'],
      [40, 'second'],
    ]);
    const { t0 } = JSON.parse(r.stdout) as { t0: number };
    const first = r.lines[0]!;
    assert.ok((first.time as number) - t0 < 40, `the first line keeps the time it was logged (${(first.time as number) - t0} ms after the start, written 50 ms later)`);
    assert.ok((r.lines[1]!.time as number) >= t0 + 50);
    assert.equal(first.key, '[redacted]');
    assert.equal(first.name, 'test');
  });

  it('does not load pino in the turn that logs, nor ever below the level or when silent', () => {
    const r = run(`
const log = createLogger('warn', 'test');
log.info('below the level');
silentLogger.error('silent');
await new Promise((r) => setTimeout(r, 20));
const below = pinoLoaded();
log.error('logged');
const sameTurn = pinoLoaded();
await new Promise((r) => setTimeout(r, 20));
process.stdout.write(JSON.stringify({ below, sameTurn, after: pinoLoaded() }));
`);
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.stdout), { below: false, sameTurn: false, after: true });
    assert.deepEqual(r.lines.map((l) => l.msg), ['logged']);
  });

  it('writes what waited when the process exits in the same turn', () => {
    const r = run(`
const log = createLogger('info', 'test');
log.error({ code: 3 }, 'exiting at once');
process.exit(3);
`);
    assert.equal(r.status, 3);
    assert.deepEqual(r.lines.map((l) => [l.msg, l.code]), [['exiting at once', 3]]);
  });

  it('with stderr closed by its reader, drops the lines and exits when told, at once or later (sonic-boom 4 retried forever)', async () => {
    for (const body of [
      // Two lines waiting at the exit: the first goes out asynchronously, the second through the synchronous flush.
      `const log = createLogger('info', 'test'); log.warn('one'); log.warn('two'); process.exit(4);`,
      `const log = createLogger('info', 'test'); log.warn('first'); setTimeout(() => { for (let i = 0; i < 100; i++) log.info({ i }, 'then more'); log.flush(); process.exit(4); }, 300);`,
    ]) {
      const stderr = brokenPipe();
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src(body)], { cwd: ROOT, stdio: ['ignore', 'ignore', stderr.fd] });
      stderr.breakIt();
      assert.equal(await exitWithin(child, 10_000), 4, body);
    }
  });

  it('cloudtable smtpd with stderr closed: answers the handshake, and exits at its EOF', async () => {
    const stderr = brokenPipe();
    const child = spawnCli(['smtpd', '--log-level', 'debug'], {}, stderr.fd);
    stderr.breakIt();
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    // The handshake and the EOF at once: the lines of the handshake are still waiting for pino at the exit.
    child.stdin.end('config|smtpd-version|7.8.0\nconfig|protocol|0.1\nconfig|tablename|aliases\nconfig|ready\n');
    assert.equal(await exitWithin(child, 5000), 0);
    assert.match(out, /register\|ready\n/);
  });
});
