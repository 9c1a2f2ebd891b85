// Exit codes of the admin commands as processes: a refusal without the
// function's error field (a gateway, a throttle) exits 75 on 429 and 5xx
// and 69 otherwise; usage errors exit 64; and the mapping itself, error by
// error (sysexits(3)).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { CommandError, EX, exitCodeOf } from '../proxy/commands/exit-codes.js';
import { ConfigError } from '../proxy/config.js';
import { CallError } from '../proxy/http/call-error.js';
import { TEST_ENV } from './helpers/backend.js';
import { runCli } from './helpers/cli.js';
import { httpFault, type FaultServer } from './helpers/fault-servers.js';

describe('exit codes', () => {
  let answer: { status: number; body: string } = { status: 503, body: '' };
  let fault: FaultServer;
  before(async () => {
    fault = await httpFault((_req, _body, res) => {
      res.writeHead(answer.status, { 'content-type': answer.body.startsWith('{') ? 'application/json' : 'text/html' });
      res.end(answer.body);
    });
  });
  after(() => fault.close());

  for (const [status, body, code, args] of [
    [503, '<html>Service Unavailable</html>', 75, ['load', 't1', '-', '--service', 'alias']],
    [429, '{"message":"Rate exceeded"}', 75, ['show', 't1']],
    [400, '{"message":"bad"}', 69, ['rollback', 't1']],
    [403, '{"Message":"User is not authorized"}', 77, ['rollback', 't1']],
  ] as const) {
    it(`an admin answer ${status} without the function's error field exits ${code} (${args[0]})`, async () => {
      answer = { status, body };
      const r = await runCli([...args, '--admin', fault.url], TEST_ENV, 'a b\n');
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`^cloudtable ${args[0]}: `));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('a usage error exits 64 with commander\'s message, not a stack', async () => {
    const r = await runCli(['show'], TEST_ENV);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /missing required argument 'table'/);
  });

  it('maps every kind of failure to one sysexits code', () => {
    const cases: Array<[unknown, number]> = [
      [new CallError('function-error', 'x', 409, 'busy'), EX.TEMPFAIL],
      [new CallError('function-error', 'x', 409, 'lease-expired'), EX.TEMPFAIL],
      [new CallError('function-error', 'x', 503, 'replicating'), EX.TEMPFAIL],
      [new CallError('function-error', 'x', 404, 'unknown-table'), EX.NOINPUT],
      [new CallError('function-error', 'x', 403, 'access-denied'), EX.NOPERM],
      [new CallError('function-error', 'x', 400, 'bad-request'), EX.UNAVAILABLE],
      [new CallError('function-error', 'x', 503, 'something-new'), EX.TEMPFAIL],
      [new CallError('network', 'x'), EX.TEMPFAIL],
      [new CallError('timeout', 'x'), EX.TEMPFAIL],
      [new CallError('http-status', 'x', 429), EX.TEMPFAIL],
      [new CallError('http-status', 'x', 504), EX.TEMPFAIL],
      [new CallError('http-status', 'x', 401), EX.NOPERM],
      [new CallError('http-status', 'x', 400), EX.UNAVAILABLE],
      [new CallError('credentials', 'x'), EX.NOPERM],
      [new CallError('bad-response', 'x', 200), EX.PROTOCOL],
      [new ConfigError('x'), EX.CONFIG],
      [new CommanderError(1, 'commander.unknownOption', 'x'), EX.USAGE],
      [new CommandError(EX.DATAERR, 'x'), EX.DATAERR],
      [Object.assign(new Error('x'), { code: 'EISDIR', syscall: 'read' }), EX.NOINPUT],
      [new TypeError('a bug'), EX.SOFTWARE],
    ];
    for (const [err, code] of cases) assert.equal(exitCodeOf(err), code, String((err as Error).message ?? err) + ' ' + (err as Error).name);
  });
});
