// The commands a user runs, as processes: `npm start`'s demo stack, the
// backend alone (signed and unsigned requests, persistence with --data), and
// `cloudtable smtpd` against them.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { CliProcess } from './helpers/cli.js';
import { findPostmap } from './helpers/postfix.js';
import { SockmapClient } from './helpers/sockmap.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

const CREDS = { CLOUDTABLE_LOCAL_ACCESS_KEY_ID: 'AKIDE2E', CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: 'e2e-secret' };
const SIGNER = { AWS_ACCESS_KEY_ID: 'AKIDE2E', AWS_SECRET_ACCESS_KEY: 'e2e-secret' };

describe('end to end', () => {
  it('npm start: the demo stack answers smtpd lookups, and stops cleanly on SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-e2e-'));
    const demo = new CliProcess(['demo', '--port', '0', '--sockmap-port', '0', '--data', dir], CREDS);
    const [, url, sockmap, postmap] = await demo.waitFor(/function \(backend\)\s+(http:\/\/127\.0\.0\.1:\d+)[^]*socketmap\s+(inet:127\.0\.0\.1:\d+)[^]*\n {2}(postmap .*)\n/);
    const client = await SockmapClient.connect(sockmap!);
    assert.equal(await client.request('virtual', 'alice@example.org'), 'OK alice');
    client.close();
    if (findPostmap()) {
      // The printed command, pasted into a shell.
      const out = await new Promise<string>((resolve, reject) =>
        execFile('sh', ['-c', postmap!], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
      );
      assert.equal(out, 'alice\n');
    }
    const peer = new SmtpdPeer(['--upstream', url!], SIGNER);
    await peer.handshake('aliases');
    peer.write(request('aliases', 'lookup', 'alias', '0000e001', 'abuse'));
    peer.write(request('aliases', 'lookup', 'alias', '0000e002', 'nobody'));
    assert.deepEqual((await peer.lines(2)).sort(), ['lookup-result|0000e001|found|root, security@example.org', 'lookup-result|0000e002|not-found']);
    assert.equal(await peer.close(), 0);
    demo.child.kill('SIGINT');
    assert.equal((await demo.result()).code, 0);

    // The tables outlived the process: the backend alone serves them from --data.
    const backend = new CliProcess(['backend', '--port', '0', '--data', dir], CREDS);
    const [, url2] = await backend.waitFor(/backend on (http:\/\/127\.0\.0\.1:\d+)/);
    const again = new SmtpdPeer(['--upstream', url2!, '--table', 'users'], SIGNER);
    await again.handshake('whatever');
    again.write(request('whatever', 'lookup', 'userinfo', '0000e003', 'alice'));
    assert.deepEqual(await again.lines(1), ['lookup-result|0000e003|found|1000:1000:/home/alice']);
    await again.close();

    // Unsigned, or signed with another secret: refused (403), answered error, never not-found.
    const unsigned = await fetch(`${url2}/v1/lookup`, { method: 'POST', body: '{"v":1,"table":"users","queries":[]}' });
    assert.equal(unsigned.status, 403);
    const wrong = new SmtpdPeer(['--upstream', url2!], { ...SIGNER, AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    await wrong.handshake('users');
    wrong.write(request('users', 'lookup', 'userinfo', '0000e004', 'alice'));
    assert.match((await wrong.lines(1))[0]!, /^lookup-result\|0000e004\|error\|HTTP 403 forbidden/);
    await wrong.close();

    backend.child.kill('SIGTERM');
    assert.equal((await backend.result()).code, 0);
  });

  it('npm start leaves the key pair it generated in a file of the user\'s, and prints no secret, neither that one nor the environment\'s', async () => {
    const secret = 'wJalrXUtnFEMI-environment-secret';
    const configHome = join(mkdtempSync(join(tmpdir(), 'cloudtable-e2e-home-')), '.config');
    const demo = new CliProcess(['demo', '--port', '0', '--sockmap-port', '0'], {
      AWS_ACCESS_KEY_ID: 'AKIDFROMENV',
      AWS_SECRET_ACCESS_KEY: secret,
      CLOUDTABLE_LOCAL_ACCESS_KEY_ID: '',
      CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: '',
      XDG_CONFIG_HOME: configHome,
    });
    const [, printedId, file] = await demo.waitFor(/generated key pair (LOCAL[0-9A-F]{16}), in (\S+) \(readable by you only\)/);
    assert.equal(file, join(configHome, 'cloudtable', 'local-backend.json'));
    const saved = JSON.parse(readFileSync(file!, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    assert.equal(saved.accessKeyId, printedId);
    assert.equal(statSync(file!).mode & 0o777, 0o600);
    demo.child.kill('SIGINT');
    const { code, stdout, stderr } = await demo.result();
    assert.equal(code, 0);
    for (const s of [secret, saved.secretAccessKey, 'AKIDFROMENV']) assert.ok(!stdout.includes(s) && !stderr.includes(s), `${s} printed: ${stdout}`);
  });

  it('the function answers limit violations with clear 4xx statuses', async () => {
    const backend = new CliProcess(['backend', '--port', '0'], CREDS);
    const [, url] = await backend.waitFor(/backend on (http:\/\/127\.0\.0\.1:\d+)/);
    const { RequestSigner } = await import('../proxy/http/signer.js');
    const signer = new RequestSigner('us-east-1', async () => ({ accessKeyId: 'AKIDE2E', secretAccessKey: 'e2e-secret' }));
    const post = async (body: string): Promise<[number, string]> => {
      const u = new URL(url!);
      const headers = await signer.sign({ method: 'POST', url: u, path: '/v1/lookup', body, headers: { 'content-type': 'application/json' } });
      const res = await fetch(`${url}/v1/lookup`, { method: 'POST', headers, body });
      return [res.status, ((await res.json()) as { error: string }).error];
    };
    const q = (n: number, key = 'k'): string => JSON.stringify({ v: 1, table: 'x', queries: Array.from({ length: n }, () => ({ service: 'alias', key })) });
    assert.deepEqual(await post(q(101)), [413, 'too-many-queries']);
    assert.deepEqual(await post(q(1, 'k'.repeat(1025))), [413, 'key-too-long']);
    assert.deepEqual(await post('{"v":1,'), [400, 'bad-json']);
    assert.deepEqual(await post('{"v":2,"table":"x","queries":[]}'), [400, 'bad-version']);
    assert.deepEqual(await post(JSON.stringify({ v: 1, table: 'x', queries: [{ service: 'nope', key: 'k' }] })), [400, 'bad-service']);
    assert.deepEqual(await post(q(1)), [404, 'unknown-table']);
    assert.deepEqual(await post(JSON.stringify({ v: 1, table: 'x', queries: [], pad: 'p'.repeat(300 * 1024) })), [413, 'body-too-large']);
    backend.child.kill('SIGTERM');
    assert.equal((await backend.result()).code, 0);
  });
});
