// Abuse from the MTA side: garbage on smtpd's stdin, a socketmap length
// prefix of 10^12, slowloris connections, 5,000 idle connections. Memory
// stays bounded, nothing malformed is ever written back, and the other
// clients are answered as usual throughout.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { netstring } from '../proxy/sockmap/netstring.js';
import { startTestBackend } from './helpers/backend.js';
import { parseLogs } from './helpers/logs.js';
import { raiseOpenFileLimit } from './helpers/open-files.js';
import { MiB, memoryOf } from './helpers/memory.js';
import { sleep } from './helpers/resolver.js';
import { SmtpdPeer, request, writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';

const ENTRIES: Array<[string, string]> = Array.from({ length: 100 }, (_, i) => [`user${i}`, `mailbox${i}`]);

/** Every line smtpd may be sent back: anything else would stop it. */
const REPLY = /^(?:(?:check|lookup|fetch)-result\|[0-9A-Za-z]{1,32}\|(?:found(?:\|[^\r\0|][^\r\0]*)?|not-found|error(?:\|[^\r\n\0]*)?)|update-result\|[0-9A-Za-z]{1,32}\|(?:ok|error(?:\|[^\r\n\0]*)?))$/;

let backend: Backend;
before(async () => {
  backend = await startTestBackend({ users: ENTRIES });
});
after(() => backend?.close());

describe('abuse of cloudtable smtpd', () => {
  it('a stream of garbage lines: valid requests in it are answered, nothing malformed goes back, memory stays bounded', async () => {
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n`)]);
    try {
      await peer.handshake('users');
      peer.write(request('users', 'lookup', 'alias', 'ffffffff', 'user0'));
      await peer.lines(1);
      const before = memoryOf(peer.child.pid!);
      let expected = 0;
      for (let round = 0; round < 40; round++) {
        const parts: string[] = [];
        // Random bytes (NUL, CR, invalid UTF-8, stray `|`), a line of 1 MB, fields galore, and a real request.
        parts.push(randomBytes(64 * 1024).toString('latin1'));
        parts.push('\n', 'x'.repeat(1024 * 1024), '\n');
        parts.push(`table|0.1|${'|'.repeat(5000)}\n`, `table|0.1|1|users|lookup|alias|${'9'.repeat(40)}|user1\n`, 'table|0.1|1|users|lookup|nosuchservice|00000001|x\n');
        parts.push(`\n${request('users', 'lookup', 'alias', (round + 1).toString(16).padStart(8, '0'), `user${round}`)}`);
        expected++;
        peer.child.stdin.write(Buffer.from(parts.join(''), 'latin1'));
      }
      // The last real request is followed by a line end, so it is complete; then wait for its answer.
      const got = await peer.lines(expected + 40, 30_000); // and 40 answers `error` to the unknown service
      const lines = got.filter((l) => l !== '');
      for (const l of lines) assert.match(l, REPLY, `malformed reply ${JSON.stringify(l.slice(0, 200))}`);
      for (let round = 0; round < 40; round++) {
        const id = (round + 1).toString(16).padStart(8, '0');
        assert.ok(lines.includes(`lookup-result|${id}|found|mailbox${round}`), `request ${id} answered`);
      }
      assert.ok(peer.child.exitCode === null, 'still running');
      const grown = memoryOf(peer.child.pid!).peak - before.rss;
      assert.ok(grown < 64 * MiB, `resident memory grew by ${(grown / MiB).toFixed(0)} MiB for 42 MB of garbage (it does not grow with more)`);
    } finally {
      peer.kill();
    }
  });
});

describe('abuse of cloudtable sockmap', () => {
  let server: RunningSockmap;
  let normal: SockmapClient;

  before(async () => {
    raiseOpenFileLimit(12_000);
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[sockmap]\nmax_connections = 6000\n`);
    server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config]);
    normal = await SockmapClient.connect(server.listeners[0]!);
    assert.equal(await normal.request('users', 'user1'), 'OK mailbox1');
  });
  after(async () => {
    normal?.close();
    await server?.stop();
  });

  /** A normal client's lookups while something else goes on: all answered right, each within `ms`. */
  async function normalClientServed(n: number, ms: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      assert.equal(await normal.request('users', `user${i % ENTRIES.length}`), `OK mailbox${i % ENTRIES.length}`);
      assert.ok(performance.now() - t0 < ms, `a lookup took ${(performance.now() - t0).toFixed(0)} ms`);
    }
  }

  it('a length prefix of 10^12 closes that connection at once, holding nothing; others are unaffected', async () => {
    const before = memoryOf(server.child.pid!);
    const evil = await SockmapClient.connect(server.listeners[0]!);
    evil.write('1000000000000:');
    evil.write(Buffer.alloc(256 * 1024, 0x61));
    await Promise.race([evil.closed, sleep(5000).then(() => assert.fail('the connection was not closed'))]);
    await normalClientServed(50, 500);
    assert.ok(memoryOf(server.child.pid!).rss - before.rss < 16 * MiB);
  });

  it('100 clients sending malformed netstrings: each one closed, the log holds a few lines a second', async () => {
    const bad = await Promise.all(Array.from({ length: 100 }, () => SockmapClient.connect(server.listeners[0]!)));
    for (const c of bad) c.write('11:users user1;'); // a ';' where the ',' belongs
    await Promise.race([Promise.all(bad.map((c) => c.closed)), sleep(5000).then(() => assert.fail('not every connection was closed'))]);
    await normalClientServed(20, 500);
    await sleep(100); // the log is written asynchronously
    const lines = parseLogs(server.stderr).filter((l) => String(l.msg).startsWith('malformed request'));
    assert.ok(lines.length >= 1 && lines.length <= 10, `${lines.length} lines for 100 malformed requests`);
  });

  it('200 slowloris connections trickling their requests do not slow the others, and are answered in the end', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => SockmapClient.connect(server.listeners[0]!)));
    const frame = Buffer.from(netstring('users user7'));
    try {
      const trickle = (async () => {
        for (let i = 0; i < frame.length; i++) {
          for (const c of slow) c.write(frame.subarray(i, i + 1));
          await sleep(40);
        }
      })();
      await normalClientServed(100, 500);
      await trickle;
      for (const c of slow) assert.deepEqual(await c.next(1), ['OK mailbox7']);
    } finally {
      for (const c of slow) c.close();
    }
  });

  it('5,000 idle connections: memory bounded, the others answered as usual', async () => {
    const before = memoryOf(server.child.pid!);
    const idle: SockmapClient[] = [];
    try {
      // In waves, so the listen backlog is not overrun.
      for (let wave = 0; wave < 10; wave++) idle.push(...(await Promise.all(Array.from({ length: 500 }, () => SockmapClient.connect(server.listeners[0]!)))));
      await normalClientServed(100, 500);
      const grown = memoryOf(server.child.pid!).peak - before.rss;
      assert.ok(grown < 96 * MiB, `resident memory grew by ${(grown / MiB).toFixed(0)} MiB for 5,000 connections`);
      // Idle connections are kept (Sendmail never reconnects), and they still work.
      assert.equal(await idle[4999]!.request('users', 'user3'), 'OK mailbox3');
    } finally {
      for (const c of idle) c.close();
    }
  });
});
