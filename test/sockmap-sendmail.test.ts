// The socketmap wire facts of docs/protocols.md, byte for byte, against a real
// `cloudtable sockmap` process and the real local backend: what Sendmail
// 8.17 sends (`LEN:MAP key,`, keys lowercased, one persistent connection)
// and what it needs back.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';

/** Over Postfix's 100,000-byte limit, under Sendmail's 1,000,000 (DynamoDB items stop at 400 KB). */
const BIG = 'b'.repeat(300_000);

describe('socketmap wire facts (Sendmail dialect, byte for byte)', () => {
  let backend: Backend;
  let server: RunningSockmap;
  let sendmail: string;
  let postfix: string;
  const clients: SockmapClient[] = [];

  async function client(address = sendmail): Promise<SockmapClient> {
    const c = await SockmapClient.connect(address);
    clients.push(c);
    return c;
  }

  before(async () => {
    backend = await startTestBackend({
      virtual: [
        ['alice@example.org', 'alice'],
        ['empty@example.org', ''],
        ['percent', 'discount 100% for %1'],
        ['nul', 'cut\0here'],
        ['multi', 'line one\nline two'],
        ['big', BIG],
      ],
    });
    const config = writeConfig(
      [
        `[upstream]`,
        `url = "${backend.url}"`,
        `[sockmap]`,
        `unknown_map = "NOTFOUND"`,
        `[[sockmap.listen]]`,
        `address = "inet:127.0.0.1:0"`,
        `dialect = "sendmail"`,
        `[[sockmap.listen]]`,
        `address = "inet:127.0.0.1:0"`,
        `dialect = "postfix"`,
        `[sockmap.maps.folded]`,
        `table = "virtual"`,
        `fold_case = true`,
        `[sockmap.maps.meta1]`,
        `table = "virtual"`,
        `not_found = "NOMORE"`,
        ``,
      ].join('\n'),
    );
    server = await startSockmap(['--config', config], { listeners: 2 });
    [sendmail, postfix] = server.listeners as [string, string];
  });

  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    await backend?.close();
  });

  it('answers a found key `OK value`, byte for byte', async () => {
    const c = await client();
    c.write('25:virtual alice@example.org,');
    await c.next(1);
    assert.equal(c.raw.toString(), '8:OK alice,');
  });

  it('keeps an idle connection open and answers on it later (Sendmail keeps one for ever)', async () => {
    const c = await client();
    assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
    await sleep(1500);
    assert.equal(await c.request('virtual', 'nobody@example.org'), 'NOTFOUND ');
    assert.equal(await c.request('no/such/map', 'x'), 'NOTFOUND ');
    const closed = await Promise.race([c.closed.then(() => true), sleep(200).then(() => false)]);
    assert.equal(closed, false, 'the server closed an idle connection');
    assert.equal(c.raw.toString(), '8:OK alice,9:NOTFOUND ,9:NOTFOUND ,');
  });

  it('finds lowercased keys as Sendmail sends them; a fold_case map also folds mixed case', async () => {
    const c = await client();
    // Sendmail lowercases `Alice@Example.ORG` itself (no -f on the K line).
    assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
    assert.equal(await c.request('virtual', 'Alice@Example.ORG'), 'NOTFOUND ', 'exact match unless the map folds case');
    assert.equal(await c.request('folded', 'Alice@Example.ORG'), 'OK alice');
  });

  it('never sends a bare OK nor an empty value: an empty stored value is NOTFOUND', async () => {
    const c = await client();
    c.write('25:virtual empty@example.org,');
    await c.next(1);
    assert.equal(c.raw.toString(), '9:NOTFOUND ,');
  });

  it('doubles % for Sendmail, and only for Sendmail', async () => {
    const c = await client();
    c.write('15:virtual percent,');
    await c.next(1);
    assert.equal(c.raw.toString(), '25:OK discount 100%% for %%1,');
    const p = await client(postfix);
    p.write('15:virtual percent,');
    await p.next(1);
    assert.equal(p.raw.toString(), '23:OK discount 100% for %1,');
  });

  it('answers a value with a NUL (both clients would cut it), a CR or a LF with PERM, as the smtpd front end refuses them', async () => {
    const c = await client();
    assert.equal(await c.request('virtual', 'nul'), 'PERM stored value contains NUL, CR or LF');
    assert.equal(await c.request('virtual', 'multi'), 'PERM stored value contains NUL, CR or LF');
  });

  it('sends Sendmail a reply Postfix could not take; Postfix gets PERM and stays in step', async () => {
    const c = await client();
    assert.equal(await c.request('virtual', 'big'), `OK ${BIG}`);
    assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
    const p = await client(postfix);
    assert.equal(await p.request('virtual', 'big'), 'PERM value too large: a 300003-byte reply exceeds the 100000-byte limit of postfix');
    assert.equal(await p.request('virtual', 'alice@example.org'), 'OK alice');
  });

  it('answers NOMORE for a MeTA1 map', async () => {
    const c = await client();
    assert.equal(await c.request('meta1', 'nobody'), 'NOMORE ');
    assert.equal(await c.request('meta1', 'alice@example.org'), 'OK alice');
  });

  it('answers many requests in one write, and one request in many writes, in order', async () => {
    const c = await client();
    c.write('25:virtual alice@example.org,26:virtual nobody@example.org,0025:virtual alice@example.org,');
    assert.deepEqual(await c.next(3), ['OK alice', 'NOTFOUND ', 'OK alice']);
    for (const byte of '25:virtual alice@example.org,') {
      c.write(byte);
      await sleep(2);
    }
    assert.deepEqual(await c.next(1), ['OK alice']);
    assert.equal(c.raw.toString(), '8:OK alice,9:NOTFOUND ,8:OK alice,8:OK alice,');
  });

  it('answers a key that is not UTF-8 (Sendmail sends 8-bit keys as they are) NOTFOUND', async () => {
    const c = await client();
    c.write(Buffer.concat([Buffer.from('12:virtual caf'), Buffer.from([0xe9]), Buffer.from(',')]));
    assert.deepEqual(await c.next(1), ['NOTFOUND ']);
    assert.equal(await c.request('virtual', 'caf\uFFFD'), 'NOTFOUND ');
    assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
  });

  it('answers a request without a key PERM and keeps the connection', async () => {
    const c = await client();
    assert.equal(await c.request('virtual', ''), 'NOTFOUND ');
    c.write('7:virtual,');
    assert.deepEqual(await c.next(1), ['PERM malformed request: expected "MAPNAME KEY"']);
    assert.equal(await c.request('virtual', 'alice@example.org'), 'OK alice');
  });

  it('closes only the connection that sends a malformed netstring, after answering what came before it', async () => {
    const bad = await client();
    const good = await client();
    bad.write('25:virtual alice@example.org,25:virtual alice@example.org;17:virtual alice,');
    assert.deepEqual(await bad.next(1), ['OK alice']);
    await bad.closed;
    assert.equal(bad.raw.toString(), '8:OK alice,');
    assert.equal(await good.request('virtual', 'alice@example.org'), 'OK alice');
  });

  it('closes a connection whose netstring is longer than max_request_bytes', async () => {
    const c = await client();
    c.write('25:virtual alice@example.org,65537:virtual ');
    assert.deepEqual(await c.next(1), ['OK alice']);
    await c.closed;
  });
});
