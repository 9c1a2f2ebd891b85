// Idle connections must not lock clients out (issue: 1,023 idle connections
// made every new Postfix and Sendmail connection fail). With 2,000 idle
// connections held against the default max_connections of 1,024, real
// `postmap -q` is answered: each new connection closes the one idle
// longest, Postfix ones first, so an idle Sendmail connection stays. And
// idle connections are closed after their dialect's idle time: Postfix ones
// after postfix_idle_timeout_s, Sendmail ones never by default.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { parseLogs } from './helpers/logs.js';
import { raiseOpenFileLimit } from './helpers/open-files.js';
import { findPostmap, Postmap, POSTMAP_MISSING } from './helpers/postfix.js';
import { sleep } from './helpers/wait.js';
import { writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap } from './helpers/sockmap.js';

const POSTMAP = findPostmap();
const IDLE = 2000;

describe('idle socketmap connections', { skip: POSTMAP ? false : POSTMAP_MISSING }, () => {
  let backend: Backend;
  before(async () => {
    raiseOpenFileLimit(IDLE + 1000);
    backend = await startTestBackend({ virtual: [['alice@example.org', 'alice']] });
  });
  after(() => backend?.close());

  it(`2,000 idle connections against max_connections = 1024: postmap -q is answered, an idle Sendmail connection stays`, async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'cloudtable-idle-')), 'sendmail.sock');
    const config = writeConfig(
      `[upstream]\nurl = "${backend.url}"\n[sockmap.maps.virtual]\n` +
        `[[sockmap.listen]]\naddress = "unix:${sock}"\ndialect = "sendmail"\n[[sockmap.listen]]\naddress = "inet:127.0.0.1:0"\n`,
    );
    const server = await startSockmap(['--config', config], { anyTable: false, listeners: 2 });
    const held: SockmapClient[] = [];
    try {
      const inet = server.listeners.find((l) => l.startsWith('inet:'))!;
      const sendmail = await SockmapClient.connect(`unix:${sock}`);
      assert.equal(await sendmail.request('virtual', 'alice@example.org'), 'OK alice');
      for (let i = 0; i < IDLE; i += 100) held.push(...(await Promise.all(Array.from({ length: 100 }, () => SockmapClient.connect(inet)))));
      await sleep(200);
      const postmap = new Postmap(POSTMAP!);
      for (let i = 0; i < 3; i++) {
        const r = await postmap.query('alice@example.org', inet, 'virtual');
        assert.deepEqual([r.code, r.stdout], [0, 'alice\n'], r.stderr);
      }
      // The Sendmail connection was idle longest, but Postfix ones went first.
      assert.equal(await sendmail.request('virtual', 'alice@example.org'), 'OK alice');
      const open = held.filter((c) => !c.isClosed).length;
      assert.ok(open >= 1000 && open <= 1024, `${open} of the idle connections still open`);
      assert.ok(parseLogs(server.stderr).some((l) => l.msg === 'too many connections: closed the one idle longest'));
      sendmail.close();
    } finally {
      for (const c of held) c.close();
      await server.stop();
    }
  });

  it('an idle Postfix connection is closed after postfix_idle_timeout_s; an idle Sendmail one is not', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'cloudtable-idle-')), 'sendmail.sock');
    const config = writeConfig(
      `[upstream]\nurl = "${backend.url}"\n[sockmap]\npostfix_idle_timeout_s = 1\n[sockmap.maps.virtual]\n` +
        `[[sockmap.listen]]\naddress = "unix:${sock}"\ndialect = "sendmail"\n[[sockmap.listen]]\naddress = "inet:127.0.0.1:0"\n`,
    );
    const server = await startSockmap(['--config', config], { anyTable: false, listeners: 2 });
    try {
      const postfix = await SockmapClient.connect(server.listeners.find((l) => l.startsWith('inet:'))!);
      const sendmail = await SockmapClient.connect(`unix:${sock}`);
      for (const c of [postfix, sendmail]) assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
      const t0 = Date.now();
      await postfix.closed;
      const waited = Date.now() - t0;
      assert.ok(waited >= 900 && waited < 5000, `closed after ${waited} ms idle`);
      await sleep(1500);
      assert.equal(await sendmail.request('virtual', 'alice@example.org'), 'OK alice');
      sendmail.close();
    } finally {
      await server.stop();
    }
  });
});
