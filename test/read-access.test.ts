// Per-table read access by IAM principal, through the real processes: a
// `cloudtable backend` whose identities file gives two mail hosts their own
// key pairs (as two instance roles would) and lets only one of them read the
// credentials table; `cloudtable sockmap` and `cloudtable smtpd` signing as
// each. The other host gets 403 from lookups and listings, which the proxy
// answers as a failure (TEMP, error), never as not found.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../proxy/config.js';
import { CallError } from '../proxy/http/call-error.js';
import { HttpUpstream } from '../proxy/upstream/client.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { startTestBackend, TEST_CREDENTIALS, testAdminClient } from './helpers/backend.js';
import { sleep } from './helpers/wait.js';
import { CliProcess } from './helpers/cli.js';
import { SmtpdPeer, request, writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';

const MAIL1 = { accessKeyId: 'AKIDMAILONE', secretAccessKey: 'mail-one-secret', arn: 'arn:aws:iam::111122223333:role/mail-1' };
const MAIL2 = { accessKeyId: 'AKIDMAILTWO', secretAccessKey: 'mail-two-secret', arn: 'arn:aws:iam::111122223333:role/mail-2' };
const HASH = '$2b$10$hIJ4QfMcp.90nJwKqGbKM.MybArjHOTpEtoTV.DgLYAiThuoYmTSe';

const envOf = (id: typeof MAIL1): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: id.accessKeyId, AWS_SECRET_ACCESS_KEY: id.secretAccessKey });
const readerAs = (url: string, id: typeof MAIL1): HttpUpstream => new HttpUpstream({ ...defaultConfig().upstream, url }, new RequestSigner('us-east-1', async () => id));

describe('per-table read access by principal', () => {
  let backend: CliProcess;
  let url: string;
  const servers: RunningSockmap[] = [];

  before(async () => {
    const identities = writeConfig(
      [MAIL1, MAIL2].map((m) => `[[identities]]\naccess_key_id = "${m.accessKeyId}"\nsecret_access_key = "${m.secretAccessKey}"\narn = "${m.arn}"\n`).join('') +
        `[read_access]\npasswd = ["${MAIL1.arn}"]\n`,
    );
    backend = new CliProcess(['backend', '--port', '0', '--identities', identities], {
      CLOUDTABLE_LOCAL_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    });
    [, url] = (await backend.waitFor(/backend on (http:\/\/127\.0\.0\.1:\d+)/)) as unknown as [string, string];
    // The operator loads both tables through the admin function (not subject to read access).
    const admin = testAdminClient(url);
    for (const [table, service, entries] of [
      ['passwd', 'credentials', [{ key: 'alice', value: HASH, line: 1 }]],
      ['aliases', 'alias', [{ key: 'root', value: 'alice', line: 1 }]],
    ] as const) {
      const b = await admin.begin({ table, service, owner: 'read-access-test' });
      await admin.send(table, b.txn, [...entries]);
      assert.ok((await admin.validate(table, b.txn, entries.length)).ok);
      await admin.apply(table, b.txn);
      await admin.commit(table, b.txn);
    }
    await admin.close();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    backend.child.kill('SIGTERM');
    await backend.result();
  });

  it('socketmap: the allowed host reads the credentials table, the other gets TEMP (403), and both read the open table', async () => {
    for (const id of [MAIL1, MAIL2]) servers.push(await startSockmap(['--listen', 'inet:127.0.0.1:0', '--upstream', url], { env: envOf(id) }));
    const [one, two] = await Promise.all(servers.map((s) => SockmapClient.connect(s.listeners[0]!)));
    assert.equal(await one!.request('passwd', 'alice'), `OK ${HASH}`);
    assert.equal(await two!.request('passwd', 'alice'), 'TEMP HTTP 403 access-denied: arn:aws:sts::111122223333:assumed-role/mail-2/AKIDMAILTWO may not read table passwd');
    // Whether the key exists is not told either.
    assert.match(await two!.request('passwd', 'nobody'), /^TEMP HTTP 403 access-denied/);
    assert.equal(await one!.request('aliases', 'root'), 'OK alice');
    assert.equal(await two!.request('aliases', 'root'), 'OK alice');
    one!.close();
    two!.close();
  });

  it('smtpd: the other host is answered error, never not-found', async () => {
    const peer = new SmtpdPeer([writeConfig(`[upstream]\nurl = "${url}"\n`)], envOf(MAIL2));
    await peer.handshake('passwd');
    peer.write(request('passwd', 'lookup', 'credentials', '0000a001', 'alice'));
    assert.match((await peer.lines(1))[0]!, /^lookup-result\|0000a001\|error\|HTTP 403 access-denied: .*may not read table passwd$/);
    await peer.close();
  });

  it('listings: entries and patterns of the table are refused with 403 to the other host, served to the allowed one', async () => {
    const one = readerAs(url, MAIL1);
    const two = readerAs(url, MAIL2);
    try {
      const page = await one.list('entries', 'passwd', undefined, 5000);
      assert.deepEqual(page.entries, [{ key: 'alice', value: HASH }]);
      for (const what of ['entries', 'patterns'] as const) {
        await assert.rejects(two.list(what, 'passwd', undefined, 5000), (err: unknown) => err instanceof CallError && err.status === 403 && err.functionCode === 'access-denied');
      }
      // The table without rules is listed to both.
      assert.equal((await two.list('entries', 'aliases', undefined, 5000)).entries.length, 1);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('access withdrawn: nothing cached of the table is served any more, not even stale', async () => {
    const access: Record<string, string[]> = {};
    const local = await startTestBackend({ aliases: [['root', 'alice']] }, { readAccess: access });
    const config = writeConfig(`[upstream]\nurl = "${local.url}"\n[cache]\nttl_s = 0.3\n[sockmap.maps.aliases]\n`);
    const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config], { anyTable: false });
    try {
      const c = await SockmapClient.connect(server.listeners[0]!);
      assert.equal(await c.request('aliases', 'root'), 'OK alice');
      access.aliases = ['arn:aws:iam::123456789012:role/someone-else'];
      await sleep(500); // past ttl_s, inside stale_s: a failing function would get the stale value
      assert.match(await c.request('aliases', 'root'), /^TEMP HTTP 403 access-denied: .* may not read table aliases$/);
      c.close();
    } finally {
      await server.stop();
      await local.close();
    }
  });

  it('generations: a table the host may not read is answered with the refusal, not its generation nor whether it exists', async () => {
    const one = readerAs(url, MAIL1);
    const two = readerAs(url, MAIL2);
    try {
      const allowed = await one.generations(['passwd', 'aliases'], 5000);
      assert.ok(allowed.tables.every((t) => 'generation' in t));
      const refused = await two.generations(['passwd', 'aliases', 'nosuch'], 5000);
      assert.deepEqual(refused.tables[0], { table: 'passwd', error: 'access-denied' });
      assert.ok('generation' in refused.tables[1]!);
      assert.deepEqual(refused.tables[2], { table: 'nosuch', error: 'unknown-table' });
    } finally {
      await one.close();
      await two.close();
    }
  });
});
