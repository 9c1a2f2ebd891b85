// The local backend's generated key pair, found by the other commands
// without AWS_* exported: `cloudtable backend` leaves it in a file only its
// user reads, `load`, `show`, `status`, `smtpd` and `sockmap` (real
// processes, no AWS_* in their environment) sign with it for that backend,
// and the secret appears in no output. A pair the user gave is never
// written, and takes its backend's URLs off the file.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CliProcess, runCli, type CliResult } from './helpers/cli.js';
import { SockmapClient, startSockmap } from './helpers/sockmap.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

interface Saved {
  accessKeyId: string;
  secretAccessKey: string;
  urls: string[];
}

/** A user with no AWS credentials anywhere (no AWS_*, an empty HOME), and a configuration directory of their own. */
function freshUser(): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'cloudtable-home-'));
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    CLOUDTABLE_LOCAL_ACCESS_KEY_ID: '',
    CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: '',
    CLOUDTABLE_CONFIG: '',
    // Nor an instance role to wait for.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

async function startBackend(env: NodeJS.ProcessEnv, port = 0): Promise<{ p: CliProcess; url: string }> {
  const p = new CliProcess(['backend', '--port', String(port)], env);
  const [, url] = await p.waitFor(/cloudtable backend on (http:\/\/127\.0\.0\.1:\d+)/);
  return { p, url: url! };
}

async function stop(p: CliProcess): Promise<CliResult> {
  p.child.kill('SIGTERM');
  return p.result();
}

describe('the local backend key pair, without AWS_* exported', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('cloudtable backend leaves it in a 0600 file; load, show, status, smtpd and sockmap sign with it; the secret is never printed', async () => {
    const env = freshUser();
    const { p: backend, url } = await startBackend(env);
    cleanup.push(() => backend.child.kill('SIGKILL'));
    const file = join(env.XDG_CONFIG_HOME!, 'cloudtable', 'local-backend.json');
    await backend.waitFor(/written to (\S+)/);
    assert.match(backend.stdout, new RegExp(`written to ${file} `));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    assert.deepEqual(saved.urls, [url]);
    assert.match(saved.accessKeyId, /^LOCAL[0-9A-F]{16}$/);

    const table = join(mkdtempSync(join(tmpdir(), 'cloudtable-table-')), 'aliases');
    writeFileSync(table, 'root alice\npostmaster root\n');
    const flags = ['--admin', url, '--upstream', url];
    const outputs: CliResult[] = [];
    const run = async (args: string[]): Promise<CliResult> => {
      const r = await runCli(args, env);
      outputs.push(r);
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
      return r;
    };
    await run(['load', 'aliases', table, '--service', 'alias', '--confirm-with', 'root', ...flags]);
    assert.match((await run(['show', 'aliases', '--admin', url])).stdout, /^root alice$/m);
    assert.match((await run(['status', ...flags])).stdout, /^ {2}aliases: generation \d+ .*reader answers generation \d+/m);

    const smtpd = new SmtpdPeer(['--upstream', url], env);
    cleanup.push(() => smtpd.kill());
    await smtpd.handshake('aliases');
    smtpd.write(request('aliases', 'lookup', 'alias', '0000c001', 'root'));
    assert.deepEqual(await smtpd.lines(1), ['lookup-result|0000c001|found|alice']);
    assert.equal(await smtpd.close(), 0);

    const sockmap = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--upstream', url], { env });
    cleanup.push(() => sockmap.stop('SIGKILL'));
    const client = await SockmapClient.connect(sockmap.listeners[0]!);
    assert.equal(await client.request('aliases', 'postmaster'), 'OK root');
    client.close();
    await sockmap.stop();

    await stop(backend);
    for (const text of [backend.stdout, backend.stderr, smtpd.stderr, sockmap.stderr, ...outputs.flatMap((o) => [o.stdout, o.stderr])]) {
      assert.ok(!text.includes(saved.secretAccessKey), `the secret is printed: ${text}`);
    }
  });

  it('the file applies to the backends it names, on loopback, and only without AWS_ACCESS_KEY_ID in the environment', async () => {
    const env = freshUser();
    const { p: backend, url } = await startBackend(env);
    cleanup.push(() => backend.child.kill('SIGKILL'));
    await backend.waitFor(/written to /);
    // Exported credentials win, as in the AWS chain: these are not the backend's.
    const exported = await runCli(['status', '--admin', url, '--upstream', url], { ...env, AWS_ACCESS_KEY_ID: 'AKIDSOMEONEELSE', AWS_SECRET_ACCESS_KEY: 'another-secret' });
    assert.equal(exported.code, 77, exported.stderr);
    // Another user (their own configuration directory) has no pair for it.
    const other = await runCli(['status', '--admin', url, '--upstream', url], freshUser());
    assert.equal(other.code, 77, other.stderr);
    await stop(backend);
  });

  it('a restarted backend keeps its generated pair; one given the user\'s own pair writes none and takes its URL off the file', async () => {
    const env = freshUser();
    const file = join(env.XDG_CONFIG_HOME!, 'cloudtable', 'local-backend.json');
    const first = await startBackend(env);
    await first.p.waitFor(/written to /);
    const before = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    await stop(first.p);
    const port = new URL(first.url).port;

    const again = await startBackend(env, Number(port));
    await again.p.waitFor(/written to /);
    const after = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    assert.deepEqual(after, before, 'the same pair, the same URL');
    await stop(again.p);

    const own = { ...env, CLOUDTABLE_LOCAL_ACCESS_KEY_ID: 'AKIDMINE', CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: 'my-own-secret' };
    const mine = await startBackend(own, Number(port));
    const stopped = await stop(mine.p);
    assert.doesNotMatch(stopped.stdout, /written to/);
    const left = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    assert.deepEqual(left.urls, [], 'a backend on that port no longer takes the generated pair');
    assert.equal(left.accessKeyId, before.accessKeyId);
    assert.ok(!readFileSync(file, 'utf8').includes('my-own-secret'));

    // A user who never let a backend generate a pair has no file at all.
    const fresh = freshUser();
    const theirs = await startBackend({ ...fresh, CLOUDTABLE_LOCAL_ACCESS_KEY_ID: 'AKIDMINE', CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: 'my-own-secret' });
    await stop(theirs.p);
    assert.throws(() => statSync(join(fresh.XDG_CONFIG_HOME!, 'cloudtable', 'local-backend.json')), /ENOENT/);
  });
});
