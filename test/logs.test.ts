// The logs of `cloudtable smtpd`: exactly one line per upstream failure, with
// its cause; bad input logged without its content and without flooding; and
// never a password, a credentials value or an AWS credential, whatever the
// input and whatever the upstream echoes back (checked at trace level).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CONTRACT_VERSION } from '../common/contract/lookup.js';
import { TEST_CREDENTIALS, startTestBackend } from './helpers/backend.js';
import { blackHole, httpFault } from './helpers/fault-servers.js';
import { HANDSHAKE, SmtpdPeer, request, writeConfig, type LogLine } from './helpers/smtpd-peer.js';

// smtpd lowercases keys, so an auth password reaches the table in lower case.
const PASSWORD = 'correct-horse-battery-7q2x';
const HASH = '$6$cloudtablesalt$Qm9ndXNIYXNoVmFsdWVGb3JUaGVMb2dUZXN0';
const SESSION_TOKEN = 'FwoGZXIvYXdzSESSIONTOKENcloudtabletest0123456789';
const SECRETS = [PASSWORD, HASH, TEST_CREDENTIALS.secretAccessKey, TEST_CREDENTIALS.accessKeyId, SESSION_TOKEN];
const SERVICES = `services = ["auth", "credentials", "alias"]\n`;

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function smtpd(url: string, extra = ''): SmtpdPeer {
  const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${url}"\n${extra}[smtpd]\n${SERVICES}`), '--log-level', 'trace'], { AWS_SESSION_TOKEN: SESSION_TOKEN });
  cleanup.push(() => peer.kill());
  return peer;
}

const failures = (logs: LogLine[]): LogLine[] => logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('upstream request failed'));
const warnings = (logs: LogLine[]): LogLine[] => logs.filter((l) => (l.level ?? 0) >= 40);

function assertNoSecrets(stderr: string): void {
  for (const s of SECRETS) assert.ok(!stderr.includes(s), `the log holds a secret (${s.slice(0, 4)}…): ${stderr.slice(Math.max(0, stderr.indexOf(s) - 300), stderr.indexOf(s) + 100)}`);
}

describe('logs', () => {
  it('hold no password, credentials value or AWS credential: lookups, bad input, unsafe values, at trace level', async () => {
    const backend = await startTestBackend({
      users: [
        ['alice', `alice:${HASH}`],
        ['crlf', `crlf:${HASH}\r\nx`],
      ],
    });
    cleanup.push(() => backend.close());
    const peer = smtpd(backend.url);
    peer.write(`alice:${PASSWORD}\n`); // before the handshake
    await peer.handshake('users');
    const auth = `alice:${PASSWORD}`;
    peer.write(
      [
        request('users', 'lookup', 'credentials', '00000001', 'alice'),
        request('users', 'check', 'auth', '00000002', auth),
        request('users', 'lookup', 'credentials', '00000003', 'crlf'),
        `table|0.1|1713795082.354255|users|check|auth|${auth}\n`,
        `table|0.1|1713795082.354255|users|check|auth|bad id!|${auth}\n`,
        `table|0.1|1713795082.354255|users|check|authx|00000004|${auth}\n`,
        `table|9.9|1713795082.354255|users|check|auth|00000005|${auth}\n`,
        `${auth}\n`,
        `${'x'.repeat(70_000)}${auth}\n`,
        request('users', 'update', undefined, '00000006'),
      ].join(''),
    );
    const lines = await peer.lines(5);
    assert.ok(lines.includes(`lookup-result|00000001|found|alice:${HASH}`));
    assert.ok(lines.some((l) => l.startsWith('lookup-result|00000003|error')), 'a value with CR LF is answered error');
    assert.ok(lines.some((l) => l.startsWith('check-result|00000004|error')));
    assert.ok(lines.includes('update-result|00000006|ok'));
    assert.equal(await peer.close(), 0);
    assert.ok(peer.logs.some((l) => l.msg === 'discarded an overlong line from smtpd'));
    const bad = peer.logs.filter((l) => l.msg === 'malformed request from smtpd');
    assert.equal(bad.length, 5, 'each malformed request logged');
    assert.ok(bad.some((l) => String(l.line).startsWith('table|0.1|1713795082.354255|users|check|auth…')), `the fields before the key are kept: ${JSON.stringify(bad)}`);
    assert.ok(peer.logs.some((l) => l.msg === 'unexpected line during handshake' && l.line === '…(32 more chars)'));
    assert.ok(peer.logs.some((l) => l.level === 50 && String(l.msg).startsWith('stored value cannot go on one protocol line')));
    assertNoSecrets(peer.stderr);
  });

  it('a stored value invalid for its service is logged without its key (nor the user of an auth check)', async () => {
    const KEY = 'secret-key-name';
    const USER = 'mallory-user';
    const backend = await startTestBackend({
      users: [
        [KEY, '"unterminated'],
        [USER, `${USER}:`],
      ],
    });
    cleanup.push(() => backend.close());
    const peer = smtpd(backend.url);
    await peer.handshake('users');
    peer.write([request('users', 'lookup', 'alias', '00000001', KEY), request('users', 'check', 'auth', '00000002', `${USER}:${PASSWORD}`)].join(''));
    const lines = await peer.lines(2);
    assert.ok(lines.some((l) => l.startsWith('lookup-result|00000001|error')), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('check-result|00000002|error')), lines.join('\n'));
    assert.equal(await peer.close(), 0);
    const invalid = peer.logs.find((l) => l.msg === 'stored value is not valid for its service: answered error');
    assert.ok(invalid && invalid.service === 'alias' && !('key' in invalid), `not even a redacted key field: ${JSON.stringify(invalid)}`);
    assert.ok(peer.logs.some((l) => l.msg === 'credentials entry is not valid: answered error'));
    for (const secret of [KEY, USER, PASSWORD]) assert.ok(!peer.stderr.includes(secret), `the log holds ${secret}: ${peer.stderr.split('\n').filter((l) => l.includes(secret)).join('\n')}`);
  });

  it('one line per failed upstream request, with its cause and status; none per answer; echoes of the request scrubbed', async () => {
    let requests = 0;
    let failed = 0;
    // Answers in turn: a per-key error that echoes the key, then an HTTP 500 echoing every header and the body.
    const echo = await httpFault((req, body, res) => {
      const q = JSON.parse(body) as { table: string; queries: Array<{ key: string }> };
      if (requests++ % 2 === 0) {
        const results = q.queries.map((x) => ({ s: 'error', reason: `cannot read ${x.key}` }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: CONTRACT_VERSION, table: q.table, generation: 1, results }));
        return;
      }
      failed++;
      const echoed = `${req.headers['x-amz-security-token']} ${req.headers.authorization} ${body}`;
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'boom', message: echoed }));
    });
    cleanup.push(() => echo.close());
    const peer = smtpd(echo.url, `deadline_ms = 1000\n[breaker]\nfailures = 1000\n`);
    await peer.handshake('users');
    for (let round = 0; round < 4; round++) {
      const id = (n: number): string => `${round}${n}`.padStart(8, '0');
      peer.write(request('users', 'check', 'auth', id(1), `alice:${PASSWORD}`) + request('users', 'lookup', 'credentials', id(2), 'alice'));
      const lines = await peer.lines(2);
      for (const l of lines) assert.match(l, /^(check|lookup)-result\|\d{8}\|error/);
    }
    await peer.close();
    const logs = peer.logs;
    const lines = failures(logs);
    assert.equal(lines.length, failed, 'one line per failed HTTP request');
    for (const l of lines) {
      assert.equal(l.level, 40);
      assert.equal(l.cause, 'function-error');
      assert.equal(l.status, 500);
      assert.equal(l.table, 'users');
      assert.equal(l.msg, 'upstream request failed: HTTP 500 boom: (details withheld: they echo the request)');
    }
    const keyErrors = logs.filter((l) => String(l.msg).startsWith('the function answered error for a key'));
    assert.ok(keyErrors.length >= 2, 'per-key errors from the function are logged once per key');
    for (const l of keyErrors) assert.match(String(l.msg), /cannot read \[key\]$/);
    assert.equal(warnings(logs).length, lines.length + keyErrors.length, `no other warnings: ${JSON.stringify(warnings(logs))}`);
    assertNoSecrets(peer.stderr);
  });

  it('a timed-out request is one line (cause timeout), however many lookups it carried', async () => {
    const hole = await blackHole();
    cleanup.push(() => hole.close());
    const peer = smtpd(hole.url, `deadline_ms = 300\n[breaker]\nfailures = 1000\n`);
    await peer.handshake('users');
    let batch = '';
    for (let i = 0; i < 20; i++) batch += request('users', 'lookup', 'alias', `0000${(i + 16).toString(16)}00`, `user${i}`);
    peer.write(batch);
    const answers = await peer.lines(20, 3000);
    for (const a of answers) assert.match(a, /^lookup-result\|\w{8}\|error\|no answer within 300 ms$/);
    const line = await peer.log((l) => failures([l]).length === 1);
    await peer.close();
    assert.equal(failures(peer.logs).length, 1);
    assert.equal(line.cause, 'timeout');
    assert.equal(line.queries, 20);
    assert.equal(warnings(peer.logs).length, 1);
  });

  it('a stream of garbage is logged a few lines a second, with a count of what was left out', async () => {
    const backend = await startTestBackend({ aliases: [['root', 'alice']] });
    cleanup.push(() => backend.close());
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n`)]);
    cleanup.push(() => peer.kill());
    peer.write(HANDSHAKE('aliases'));
    await peer.lines(13);
    peer.write('garbage\n'.repeat(5000));
    await new Promise((r) => setTimeout(r, 1100));
    peer.write('more garbage\n' + request('aliases', 'lookup', 'alias', '00000001', 'root'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|00000001|found|alice']);
    const bad = peer.logs.filter((l) => String(l.msg).startsWith('malformed request from smtpd'));
    assert.equal(bad.length, 11, 'ten in the first second, then one that counts the rest');
    assert.equal(bad[10]!.notLogged, 4990);
  });
});
