// The command line is the same across commands, through the real
// `cloudtable` processes: every command that reads the configuration takes
// `-c FILE` and `$CLOUDTABLE_CONFIG` (smtpd's positional argument, how
// smtpd.conf passes it, wins), `--upstream`/`--admin` are checked like the
// file's keys, `--listen unix:` sockets get their mode, owner and group
// from flags as configured listeners do from the file, and `status` names
// running proxies with `--proxy`.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CliProcess, type CliResult } from './helpers/cli.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';

/** Runs the CLI with stdin closed; a command still running after `ms` is killed (it ignored what it was given). */
async function runWithin(args: string[], env: NodeJS.ProcessEnv = {}, ms = 60_000): Promise<CliResult> {
  const p = new CliProcess(args, env);
  p.child.stdin.end();
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  try {
    return await p.result();
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the commands a few at a time (each is a Node process starting up), results in order. */
async function runAll(runs: Array<{ args: string[]; env?: NodeJS.ProcessEnv }>, parallel = 3): Promise<CliResult[]> {
  const results: CliResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < runs.length; i = next++) results[i] = await runWithin(runs[i]!.args, runs[i]!.env);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
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
      { how: `${name} -c`, args: [...args, '-c', bad] },
      { how: `${name} $CLOUDTABLE_CONFIG`, args, env: { CLOUDTABLE_CONFIG: bad } },
      // The long name, on the commands that had none.
      ...(name === 'smtpd' || name === 'sockmap' ? [{ how: `${name} --config`, args: [...args, '--config', bad] }] : []),
    ]);
    const results = await runAll(runs);
    for (const [i, { how }] of runs.entries()) {
      const r = results[i]!;
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

  it('--upstream and --admin are checked as the file keys are, and status --proxy likewise: one line, exit 78, on every command that has them', async () => {
    const runs = [
      ['sockmap', '--listen', 'inet:127.0.0.1:0', '--upstream', 'http://127.0.0.1:8787/v1'],
      ['status', '--upstream', 'http://127.0.0.1:8787/?x=1'],
      ['load', 'aliases', bad, '--admin', 'http://127.0.0.1:8787/admin'],
      ['rollback', 'aliases', '--admin', 'ftp://127.0.0.1'],
      ['status', '--admin', 'not a url'],
      ['status', '--proxy', 'http://127.0.0.1:9464 /x'],
      ['status', '--proxy', 'http://127.0.0.1:9464/somewhere'],
    ].map((args) => ({ args }));
    const results = await runAll(runs);
    for (const [i, { args }] of runs.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^cloudtable: --(upstream|admin|proxy)[: ][^\n]*\n$/, args.join(' '));
    }
  });

  it('sockmap --socket-mode, --socket-owner, --socket-group: a real --listen unix: socket gets them (names or numbers)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-sock-'));
    // Root can give the socket away (to nobody:nogroup by name, to numbers); anyone else, to its own ids.
    const root = process.getuid!() === 0;
    const id = (db: string, name: string): number => Number(execFileSync('getent', [db, name], { encoding: 'utf8' }).split(':')[2]);
    const cases: Array<{ flags: string[]; mode: number; uid: number; gid: number }> = root
      ? [
          { flags: ['--socket-mode', '0640', '--socket-owner', 'nobody', '--socket-group', 'nogroup'], mode: 0o640, uid: id('passwd', 'nobody'), gid: id('group', 'nogroup') },
          { flags: ['--socket-mode', '604', '--socket-owner', '4242', '--socket-group', '4343'], mode: 0o604, uid: 4242, gid: 4343 },
        ]
      : [{ flags: ['--socket-mode', '0600', '--socket-owner', String(process.getuid!()), '--socket-group', String(process.getgid!())], mode: 0o600, uid: process.getuid!(), gid: process.getgid!() }];
    for (const [i, c] of cases.entries()) {
      const path = join(dir, `postfix-${i}.sock`);
      const server = new CliProcess(['sockmap', '--listen', `unix:${path}`, '--listen', 'inet:127.0.0.1:0', ...c.flags]);
      try {
        await server.waitFor(/^listening inet:/m);
        const st = statSync(path);
        assert.ok(st.isSocket());
        assert.deepEqual({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }, { mode: c.mode, uid: c.uid, gid: c.gid }, c.flags.join(' '));
      } finally {
        server.child.kill('SIGKILL');
      }
    }
  });

  it('sockmap socket flags: a bad mode is a usage error (64), an unknown user or group a configuration error (78), one line', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cloudtable-sock-')), 's.sock');
    const noSuchUser = writeConfig(`[[sockmap.listen]]\naddress = "unix:${path}"\nowner = "no-such-user-cloudtable"\n`);
    const runs: Array<[string[], number, RegExp]> = [
      [['--listen', `unix:${path}`, '--socket-mode', '0999'], 64, /^error: option '--socket-mode <mode>' argument '0999' is invalid\. an octal mode from 0000 to 0777/],
      [['--listen', 'inet:127.0.0.1:0', '--socket-group', 'nogroup'], 64, /^cloudtable: --socket-mode, --socket-owner and --socket-group apply to --listen unix: addresses;[^\n]*\n$/],
      [['--listen', `unix:${path}`, '--socket-owner', 'no-such-user-cloudtable'], 78, /^cloudtable: --socket-owner: no user named no-such-user-cloudtable\n$/],
      [['--listen', `unix:${path}`, '--socket-group', 'no-such-group-cloudtable'], 78, /^cloudtable: --socket-group: no group named no-such-group-cloudtable\n$/],
      [['-c', noSuchUser], 78, new RegExp(`^cloudtable: unix:${path}: no user named no-such-user-cloudtable\n$`)],
    ];
    const results = await runAll(runs.map(([args]) => ({ args: ['sockmap', ...args] })));
    for (const [i, [args, code, message]] of runs.entries()) {
      const r = results[i]!;
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('status names running proxies with --proxy; --metrics, its old name, still works but is no longer shown', async () => {
    const help = await runWithin(['status', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stderr, /--proxy <url>/);
    assert.doesNotMatch(help.stderr, /--metrics/);
  });
});
