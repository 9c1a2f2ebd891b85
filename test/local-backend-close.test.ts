// Closing the local backend while invocations are in progress: they finish
// before the engine closes under them, as Lambda's would. Before, a handler
// still running when `close()` returned met a closed dynalite (a 503 and an
// error line each), and dynalite could throw "Database is closed" uncaught in
// the process that closed it (seen once, in CI, at the end of a test file).
// Run in a process of its own, so that what it logs and what it throws is
// its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const helpers = new URL('./helpers/backend.js', import.meta.url).href;

/** 10 rounds: a backend, 20 listings of a 3,000-entry table in flight, closed a few ms later. */
const SCRIPT = `
import { startTestBackend, testReader } from ${JSON.stringify(helpers)};
process.on('uncaughtException', (e) => { console.error('UNCAUGHT ' + String(e)); process.exitCode = 3; });
const rows = Array.from({ length: 3000 }, (_, i) => ['k' + i, 'v' + i]);
for (let round = 0; round < 10; round++) {
  const backend = await startTestBackend({ t: rows });
  const reader = testReader(backend.url);
  const calls = Array.from({ length: 20 }, () => reader.list('entries', 't', undefined, 5000).catch(() => undefined));
  await new Promise((r) => setTimeout(r, 5 + round));
  await backend.close();
  await Promise.all(calls);
}
await new Promise((r) => setTimeout(r, 300));
console.log('rounds done');
`;

describe('local backend close', () => {
  it('lets the invocations in progress finish before the engine closes: none fails on a closed engine, nothing is thrown uncaught', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rounds done/);
    const failed = r.stderr.split('\n').filter((l) => /failed|UNCAUGHT|Database is closed/.test(l));
    assert.deepEqual(failed, []);
  });
});
