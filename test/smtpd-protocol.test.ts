// The smtpd-tables(7) protocol against a real `cloudtable smtpd` process and
// the real local backend, with the exact bytes smtpd 7.8 sends.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { startTestBackend } from './helpers/backend.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

const T = 'aliases';
const REGISTERED = [
  'register|alias',
  'register|domain',
  'register|credentials',
  'register|netaddr',
  'register|userinfo',
  'register|source',
  'register|mailaddr',
  'register|addrname',
  'register|mailaddrmap',
  'register|relayhost',
  'register|string',
  'register|regex',
  'register|ready',
];

describe('smtpd table protocol', () => {
  let backend: Backend;
  let peer: SmtpdPeer;

  before(async () => {
    const many: Array<[string, string]> = [];
    for (let i = 0; i < 1000; i++) many.push([`user${i}`, `mailbox${i}`]);
    backend = await startTestBackend({
      [T]: [
        ['root', 'alice'],
        ['abuse', 'root, security@example.org'],
        ['a|b', '|/usr/bin/filter|in|value'],
        ['crlf', 'bad\r\nvalue'],
        ['cr', 'bad\rvalue'],
        ['nul', 'bad\0value'],
        ['empty', ''],
        ['x'.repeat(1023), 'long-key'],
        ...many,
      ],
    });
    peer = SmtpdPeer.withConfig(backend.url);
  });

  after(async () => {
    peer.kill();
    await backend.close();
  });

  it('answers the handshake with the configured services, then register|ready', async () => {
    assert.deepEqual(await peer.handshake(T), REGISTERED);
  });

  it('answers lookup found / not-found byte for byte', async () => {
    peer.write(request(T, 'lookup', 'alias', 'b72508d0', 'root'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|b72508d0|found|alice']);
    peer.write(request(T, 'lookup', 'alias', 'b72508d1', 'nobody'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|b72508d1|not-found']);
    peer.write(request(T, 'lookup', 'alias', 'b72508d2', 'abuse'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|b72508d2|found|root, security@example.org']);
  });

  it('answers check found / not-found without a value', async () => {
    peer.write(request(T, 'check', 'alias', 'e5862859', 'root'));
    assert.deepEqual(await peer.lines(1), ['check-result|e5862859|found']);
    peer.write(request(T, 'check', 'alias', 'e586285a', 'nobody'));
    assert.deepEqual(await peer.lines(1), ['check-result|e586285a|not-found']);
  });

  it('takes the rest of the line as the key, | included, and passes | in values', async () => {
    peer.write(request(T, 'lookup', 'alias', '0000a001', 'a|b'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|0000a001|found||/usr/bin/filter|in|value']);
  });

  it('answers a 1023-byte key', async () => {
    peer.write(request(T, 'lookup', 'alias', '0000a002', 'x'.repeat(1023)));
    assert.deepEqual(await peer.lines(1), ['lookup-result|0000a002|found|long-key']);
  });

  it('never writes CR, LF, NUL or an empty value: such values are answered error', async () => {
    for (const [id, key] of [['0000b001', 'crlf'], ['0000b002', 'cr'], ['0000b003', 'nul'], ['0000b004', 'empty']] as const) {
      peer.write(request(T, 'lookup', 'alias', id, key));
      const [line] = await peer.lines(1);
      assert.match(line!, new RegExp(`^lookup-result\\|${id}\\|error(\\|[^\\r\\0]*)?$`));
    }
    // check only says found: the value is not sent, so nothing is unsafe.
    peer.write(request(T, 'check', 'alias', '0000b005', 'crlf'));
    assert.deepEqual(await peer.lines(1), ['check-result|0000b005|found']);
  });

  it('answers update ok', async () => {
    peer.write(request(T, 'update', undefined, '478ff0d2'));
    assert.deepEqual(await peer.lines(1), ['update-result|478ff0d2|ok']);
  });

  it('answers fetch with fetch-result, never lookup-result', async () => {
    peer.write(request(T, 'fetch', 'source', '189bd3ee'));
    const [line] = await peer.lines(1);
    assert.match(line!, /^fetch-result\|189bd3ee\|(found\|.+|not-found|error(\|.*)?)$/);
  });

  it('answers an unknown service error under the request ID, and ignores garbage', async () => {
    peer.write('garbage\n\nconfig|ready\ntable|0.2|0|aliases|lookup|alias|00000001|root\n');
    peer.write(request(T, 'lookup', 'nosuchservice', '0000c001', 'root'));
    const [line] = await peer.lines(1);
    assert.match(line!, /^lookup-result\|0000c001\|error(\|.*)?$/);
    // still serving after the garbage
    peer.write(request(T, 'lookup', 'alias', '0000c002', 'root'));
    assert.deepEqual(await peer.lines(1), ['lookup-result|0000c002|found|alice']);
  });

  it('answers 1,000 pipelined requests, each ID exactly once, with the right value', async () => {
    let batch = '';
    for (let i = 0; i < 1000; i++) batch += request(T, 'lookup', 'alias', (0x10000000 + i).toString(16), `user${i}`);
    peer.write(batch);
    const lines = await peer.lines(1000, 20_000);
    const seen = new Map<string, string>();
    for (const l of lines) {
      const m = /^lookup-result\|([0-9a-f]{8})\|found\|(.*)$/.exec(l);
      assert.ok(m, `malformed line ${JSON.stringify(l)}`);
      assert.ok(!seen.has(m[1]!), `ID ${m[1]} answered twice`);
      seen.set(m[1]!, m[2]!);
    }
    for (let i = 0; i < 1000; i++) assert.equal(seen.get((0x10000000 + i).toString(16)), `mailbox${i}`);
  });

  it('exits 0 within 1 s of stdin EOF', async () => {
    const t0 = Date.now();
    const code = await peer.close();
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.equal(peer.received, '', 'no unsolicited output');
  });
});
