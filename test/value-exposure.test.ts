// A stored value that smtpd could not use is answered as a failure that
// names the problem, never the value: no fragment of it reaches smtpd's
// error reply, Postfix's TEMP text or the logs (a value may be a password).
// Through a real `cloudtable smtpd` and a real `cloudtable sockmap`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { startTestBackend } from './helpers/backend.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap } from './helpers/sockmap.js';

const SECRET = 's3cr3tFragment';

describe('invalid stored values are named, never shown', () => {
  let backend: Backend;
  before(async () => {
    backend = await startTestBackend();
    // Stored as a table written around the uploader's checks would be.
    await replaceTable(backend.store, 'aliases', [['bad', `alice, ${SECRET}!!`]], 'alias');
    await replaceTable(backend.store, 'users', [['joe', `${SECRET}:100:/home/joe`]], 'userinfo');
    await replaceTable(backend.store, 'relays', [['example.org', `smtp://[${SECRET}]:25`]], 'relayhost');
  });
  after(() => backend?.close());

  it('smtpd: error replies and logs name the problem', async () => {
    const cases = [
      // smtpd's reply cannot carry a `|`: the front end blanks it.
      ['aliases', 'alias', 'bad', 'invalid alias value: item 2 of the list is not a user, address, /file,  command, include: or error: item'],
      ['users', 'userinfo', 'joe', 'invalid userinfo value: invalid uid'],
      ['relays', 'relayhost', 'example.org', 'invalid relayhost value: invalid relay host name'],
    ] as const;
    for (const [table, service, key, reason] of cases) {
      const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${backend.url}"\n`)]);
      await peer.handshake(table);
      assert.equal(await peer.ask(table, 'lookup', service, key), `error|${reason}`);
      await peer.close();
      assert.ok(!peer.stderr.includes(SECRET), `${table}: the log shows the value: ${peer.stderr}`);
    }
  });

  it('socketmap: TEMP names the problem, and so do the logs', async () => {
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\n[sockmap.maps.aliases]\nservice = "alias"\n[sockmap.maps.users]\nservice = "userinfo"\n`);
    const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config]);
    try {
      const c = await SockmapClient.connect(server.listeners[0]!);
      assert.equal(await c.request('aliases', 'bad'), 'TEMP invalid alias value: item 2 of the list is not a user, address, /file, |command, include: or error: item');
      assert.equal(await c.request('users', 'joe'), 'TEMP invalid userinfo value: invalid uid');
      c.close();
    } finally {
      await server.stop();
    }
    assert.ok(!server.stderr.includes(SECRET), `the log shows the value: ${server.stderr}`);
  });
});
