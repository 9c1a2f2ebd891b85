// One configuration file for every smtpd `table` line: settings keyed by
// smtpd's table name ([smtpd.tables.NAME]: services, cloud table), so that
// registering `auth` for the auth table does not make the credentials table
// receive `user:password` — through real `cloudtable smtpd` processes
// speaking smtpd 7.8's bytes, against the real backend.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { buildConfig, ConfigError } from '../proxy/config.js';
import { startTestBackend } from './helpers/backend.js';
import { request, SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';

/** sha512-crypt of `secret`. */
const HASH = '$6$U44ZZsU3qGbqtf3n$xt.EGbtTP5yeXFqUKCtfyED1playnb/RD/DmKL7K1WYfIOZKTsJfkd6h7ltNXWXdedyDmYLmsHqrodEUzjmEx0';

describe('one configuration file for every smtpd table line', () => {
  let backend: Backend;
  let config: string;
  const peers: SmtpdPeer[] = [];
  const start = (args: string[] = []): SmtpdPeer => {
    const p = new SmtpdPeer([config, ...args]);
    peers.push(p);
    return p;
  };

  before(async () => {
    backend = await startTestBackend({ users: [['alice', `alice:${HASH}`]], aliases: [['root', 'alice']], other: [['root', 'bob']] });
    config = writeConfig(
      [
        `[upstream]\nurl = "${backend.url}"\n`,
        '[smtpd]\nservices = ["alias"]\n',
        '[smtpd.tables.auth]\nservices = ["auth"]\ntable = "users"\n',
        '[smtpd.tables.creds]\nservices = ["credentials"]\ntable = "users"\n',
      ].join('\n'),
    );
  });

  after(async () => {
    for (const p of peers) p.kill();
    await backend.close();
  });

  it('registers each table line its own services and asks its own cloud table', async () => {
    const [auth, creds, aliases] = [start(), start(), start()];
    assert.deepEqual(await auth!.handshake('auth'), ['register|auth', 'register|ready']);
    assert.deepEqual(await creds!.handshake('creds'), ['register|credentials', 'register|ready']);
    assert.deepEqual(await aliases!.handshake('aliases'), ['register|alias', 'register|ready']);

    // smtpd sends the auth line `user:password` and the credentials line the user alone.
    auth!.write(request('auth', 'check', 'auth', '00000001', 'alice:secret') + request('auth', 'check', 'auth', '00000002', 'alice:Secret'));
    assert.deepEqual(await auth!.lines(2), ['check-result|00000001|found', 'check-result|00000002|not-found']);
    creds!.write(request('creds', 'lookup', 'credentials', '00000003', 'alice'));
    assert.deepEqual(await creds!.lines(1), [`lookup-result|00000003|found|alice:${HASH}`]);
    aliases!.write(request('aliases', 'lookup', 'alias', '00000004', 'root'));
    assert.deepEqual(await aliases!.lines(1), ['lookup-result|00000004|found|alice']);
  });

  it('lets --table name the cloud table over the file', async () => {
    const p = start(['--table', 'other']);
    assert.deepEqual(await p.handshake('aliases'), ['register|alias', 'register|ready']);
    p.write(request('aliases', 'lookup', 'alias', '00000005', 'root'));
    assert.deepEqual(await p.lines(1), ['lookup-result|00000005|found|bob']);
  });

  it('refuses unknown keys and bad values in a table line\'s settings', () => {
    assert.throws(() => buildConfig({ smtpd: { tables: { auth: { service: ['auth'] } } } }), (e: unknown) => e instanceof ConfigError && /\[smtpd\.tables\.auth\]: unknown key service/.test(e.message));
    assert.throws(() => buildConfig({ smtpd: { tables: { auth: { services: ['login'] } } } }), (e: unknown) => e instanceof ConfigError && /smtpd\.tables\.auth\.services\[0\]/.test(e.message));
    assert.throws(() => buildConfig({ smtpd: { tables: { auth: { table: 'a b' } } } }), (e: unknown) => e instanceof ConfigError && /smtpd\.tables\.auth\.table/.test(e.message));
  });
});
