// The command line is the same across commands, through the real
// `cloudtable` processes: every command that reads the configuration takes
// `-c FILE` and `$CLOUDTABLE_CONFIG` (smtpd's positional argument, how
// smtpd.conf passes it, wins), `--upstream`/`--admin` are checked like the
// file's keys, and `status` names running proxies with `--proxy`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliProcess, type CliResult } from './helpers/cli.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';

/** Runs the CLI with stdin closed; a command still running after `ms` is killed (it ignored what it was given). */
async function runWithin(args: string[], env: NodeJS.ProcessEnv = {}, ms = 20_000): Promise<CliResult> {
  const p = new CliProcess(args, env);
  p.child.stdin.end();
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  try {
    return await p.result();
  } finally {
    clearTimeout(timer);
  }
}

describe('command line consistency', () => {
  // A file every command refuses at once, naming it: proof that the command read it.
  const bad = writeConfig('[log]\nlevel = "loud"\n');
  const commands: Array<[string, string[]]> = [
    ['smtpd', ['smtpd']],
    ['sockmap', ['sockmap', '--listen', 'inet:127.0.0.1:0']],
    ['load', ['load', 'aliases', bad, '--service', 'alias']],
    ['show', ['show', 'aliases']],
    ['rollback', ['rollback', 'aliases']],
    ['status', ['status']],
  ];

  it('every command that reads the configuration takes -c FILE, --config FILE and $CLOUDTABLE_CONFIG', async () => {
    const runs = commands.flatMap(([name, args]) => [
      { how: `${name} -c`, run: runWithin([...args, '-c', bad]) },
      { how: `${name} --config`, run: runWithin([...args, '--config', bad]) },
      { how: `${name} $CLOUDTABLE_CONFIG`, run: runWithin(args, { CLOUDTABLE_CONFIG: bad }) },
    ]);
    for (const { how, run } of runs) {
      const r = await run;
      assert.equal(r.code, 78, `${how}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^cloudtable: ${bad}: log\\.level must be one of [a-z, ]+\n$`), how);
    }
  });

  it('cloudtable smtpd: the positional file (as smtpd.conf passes it) wins over -c and $CLOUDTABLE_CONFIG', async () => {
    const good = writeConfig('[smtpd]\nservices = ["domain"]\n');
    const viaEnv = writeConfig('[smtpd]\nservices = ["alias"]\n');
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [[good], { CLOUDTABLE_CONFIG: bad }, 'register|domain'],
      [[good, '-c', bad], {}, 'register|domain'],
      [[], { CLOUDTABLE_CONFIG: viaEnv }, 'register|alias'],
    ];
    for (const [args, env, want] of cases) {
      const p = new SmtpdPeer(args, env);
      try {
        assert.deepEqual(await p.handshake('aliases'), [want, 'register|ready'], `${args.join(' ')} ${JSON.stringify(env)}: ${p.stderr}`);
      } finally {
        p.child.kill('SIGKILL');
      }
    }
  });

  it('--upstream and --admin are checked as the file keys are: one line, exit 78, on every command that has them', async () => {
    const runs = [
      ['sockmap', '--listen', 'inet:127.0.0.1:0', '--upstream', 'http://127.0.0.1:8787/v1'],
      ['load', 'aliases', bad, '--upstream', 'not a url'],
      ['load', 'aliases', bad, '--admin', 'http://127.0.0.1:8787/admin'],
      ['rollback', 'aliases', '--admin', 'ftp://127.0.0.1'],
      ['status', '--upstream', 'http://127.0.0.1:8787/?x=1'],
      ['status', '--admin', '127.0.0.1:8787'],
    ].map((args) => ({ args, run: runWithin(args) }));
    for (const { args, run } of runs) {
      const r = await run;
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^cloudtable: --(upstream|admin)[: ][^\n]*\n$/, args.join(' '));
    }
  });

  it('status names running proxies with --proxy; --metrics, its old name, still works but is no longer shown', async () => {
    const help = await runWithin(['status', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stderr, /--proxy <url>/);
    assert.doesNotMatch(help.stderr, /--metrics/);
  });
});
