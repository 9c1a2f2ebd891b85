// The server's life: restarts under socket activation without refusing a
// connection (Sendmail never retries), SIGHUP reload without closing
// connections, graceful stop, UNIX socket files (stale, live, mode).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { exited } from './helpers/cli.js';
import { blackHole, type FaultServer } from './helpers/fault-servers.js';
import { SockmapClient, startSockmap } from './helpers/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';
import { SocketHolder } from './helpers/socket-holder.js';
import { waitUntil } from './helpers/wait.js';

describe('sockmap lifecycle', () => {
  let backend: Backend;

  before(async () => {
    backend = await startTestBackend({ virtual: [['alice@example.org', 'alice']] });
  });

  after(async () => {
    await backend?.close();
  });

  it('keeps accepting while the server is replaced on a socket-activated listener', async () => {
    const holder = await SocketHolder.start(['--upstream', backend.url], 'sendmail');
    const address = `inet:127.0.0.1:${holder.port}`;
    const outcomes = { ok: 0, failed: [] as string[] };
    let running = true;
    /** Sendmail's way: a new connection per process, one lookup on it. */
    const load = async (): Promise<void> => {
      while (running) {
        try {
          const c = await SockmapClient.connect(address);
          const reply = await c.request('virtual', 'alice@example.org', 20_000);
          c.close();
          if (reply === 'OK alice') outcomes.ok++;
          else outcomes.failed.push(reply);
        } catch (err) {
          outcomes.failed.push((err as Error).message);
        }
      }
    };
    try {
      const a = await holder.startInstance();
      // The dialect comes from the socket's FileDescriptorName=.
      await a.waitFor(new RegExp(`^listening inet:127\\.0\\.0\\.1:${holder.port} sendmail$`, 'm'));
      const persistent = await SockmapClient.connect(address);
      assert.equal(await persistent.request('virtual', 'alice@example.org'), 'OK alice');
      const loaders = [load(), load()];

      // An upgrade: the new instance starts on the same socket, then the old one stops.
      await waitUntil(() => outcomes.ok >= 5, { what: 'lookups through the first instance' });
      const b = await holder.startInstance();
      await b.waitFor(/^listening /m);
      process.kill(a.pid, 'SIGTERM');
      await a.waitFor(/"msg":"stopped"/);
      await persistent.closed;
      const okAfterUpgrade = outcomes.ok;

      // A restart: stopped first, started again. Connections made meanwhile wait in the backlog.
      process.kill(b.pid, 'SIGTERM');
      await b.waitFor(/"msg":"stopped"/);
      const waiting = SockmapClient.connect(address).then((c) => c.request('virtual', 'alice@example.org', 20_000));
      await sleep(300);
      const c = await holder.startInstance();
      await c.waitFor(/^listening /m);
      assert.equal(await waiting, 'OK alice');
      const okAfterRestart = outcomes.ok;
      await waitUntil(() => outcomes.ok >= okAfterRestart + 5, { what: 'lookups through the restarted instance' });
      running = false;
      await Promise.all(loaders);
      process.kill(c.pid, 'SIGTERM');
      await c.waitFor(/"msg":"stopped"/);

      assert.deepEqual(outcomes.failed, [], 'every connection was accepted and answered');
      assert.ok(okAfterUpgrade > 0 && outcomes.ok > okAfterUpgrade, `lookups answered: ${okAfterUpgrade} by the upgrade, ${outcomes.ok} in all`);
    } finally {
      running = false;
      holder.close();
    }
  });

  it('reloads the configuration on SIGHUP without closing connections; a bad file changes nothing', async () => {
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[sockmap]\nany_table = false\n`);
    const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config], { anyTable: false });
    try {
      const c = await SockmapClient.connect(server.listeners[0]!);
      assert.equal(await c.request('aliases', 'alice@example.org'), 'PERM unknown map aliases');
      writeFileSync(config, `[upstream]\nurl = "${backend.url}"\n[sockmap]\nany_table = false\n[sockmap.maps.aliases]\ntable = "virtual"\nfold_case = true\n`);
      server.child.kill('SIGHUP');
      await waitUntil(() => server.stderr.includes('configuration reloaded'));
      assert.equal(await c.request('aliases', 'Alice@Example.org'), 'OK alice');

      writeFileSync(config, `[sockmap]\nno_such_key = 1\n`);
      server.child.kill('SIGHUP');
      await waitUntil(() => server.stderr.includes('configuration not reloaded'));
      assert.equal(await c.request('aliases', 'Alice@Example.org'), 'OK alice');
      assert.match(server.stderr, /unknown key no_such_key/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  describe('graceful stop', () => {
    let hole: FaultServer;
    before(async () => {
      hole = await blackHole();
    });
    after(async () => {
      await hole?.close();
    });

    it('answers a lookup in flight at SIGTERM, then closes and exits 0', async () => {
      const config = writeConfig(`[upstream]\nurl = "${hole.url}"\ndeadline_ms = 800\n`);
      const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config]);
      const c = await SockmapClient.connect(server.listeners[0]!);
      const pending = c.request('virtual', 'alice@example.org');
      await waitUntil(() => hole.hits > 0);
      const code = server.stop('SIGTERM');
      assert.equal(await pending, 'TIMEOUT no answer within 800 ms');
      await c.closed;
      assert.equal(await code, 0);
    });
  });

  // Creating a socket for another owner and group needs root, as in CI.
  describe('UNIX sockets', { skip: process.getuid?.() === 0 ? false : 'needs root (chown)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-unix-'));
    const path = join(dir, 'sockmap.sock');

    it('creates the socket with the configured mode, refuses a live one, replaces a stale one', async () => {
      const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[[sockmap.listen]]\naddress = "unix:${path}"\nmode = "0640"\nowner = "root"\ngroup = "nogroup"\n`);
      const first = await startSockmap(['--config', config]);
      const st = statSync(path);
      assert.equal(st.mode & 0o777, 0o640);
      assert.deepEqual([st.uid, st.gid], [0, Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2])]);
      const c = await SockmapClient.connect(`unix:${path}`);
      assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');

      const second = await startSockmap(['--listen', `unix:${path}`, '--upstream', backend.url]).then(
        () => assert.fail('a second server took a live socket'),
        (err: Error) => err.message,
      );
      assert.match(second, /another server is listening on this socket/);

      // A crash leaves the socket file behind.
      first.child.kill('SIGKILL');
      await exited(first.child);
      assert.ok(statSync(path).isSocket());
      const third = await startSockmap(['--listen', `unix:${path}`, '--upstream', backend.url]);
      assert.equal(statSync(path).mode & 0o777, 0o660);
      const d = await SockmapClient.connect(`unix:${path}`);
      assert.equal(await d.request('virtual', 'alice@example.org'), 'OK alice');
      assert.equal(await third.stop(), 0);
      assert.throws(() => statSync(path), /ENOENT/, 'the socket file is removed at a clean stop');
    });
  });
});
