// The logger loads pino at the first line that passes its level, on the
// next turn of the event loop (a table process answers smtpd's handshake
// first): lines logged before then are written in order, with the time
// they were logged, redacted like the others, and not lost when the
// process exits at once; a silent logger never loads pino at all.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const LOG = new URL('../proxy/log.ts', import.meta.url).href;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `body` as an ES module in a fresh process (with `createLogger`, `silentLogger` and `pinoLoaded()` in scope). */
function run(body: string): { status: number | null; stdout: string; lines: Array<Record<string, unknown>> } {
  const src = `import { createRequire } from 'node:module';
import { createLogger, silentLogger } from '${LOG}';
const pinoLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/pino/'));
${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
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
});
