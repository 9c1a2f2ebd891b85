// Property and flood tests of the socketmap server (in this process, to
// watch its buffers) on the real HTTP client and the real local backend:
// random streams of valid and invalid netstrings cut at random points, and
// a client that sends without reading.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { LookupRequest } from '../common/contract/lookup.js';
import type { Backend } from '../lambda/local/backend.js';
import { netstring } from '../proxy/sockmap/netstring.js';
import { recordRequests, startTestBackend } from './helpers/backend.js';
import { switchableUpstream } from './helpers/fault-servers.js';
import { testConfig } from './helpers/resolver.js';
import { SockmapClient, sockmapInProcess, type InProcessSockmap } from './helpers/sockmap.js';
import { waitUntil } from './helpers/wait.js';

const MAX_REQUEST = 1024;
const KEYS = 20;
const value = (i: number): string => `value-${i}-${'v'.repeat(i * 7)}`;
const BIG = 'B'.repeat(8000);

/** One piece of a stream and the reply it must get (none for a framing error). */
type Token = { bytes: string; reply: string } | { bytes: string; invalid: true };

const validRequest: fc.Arbitrary<Token> = fc
  .tuple(
    fc.oneof(
      fc.nat(KEYS - 1).map((i) => ({ payload: `virtual key${i}`, reply: `OK ${value(i)}` })),
      fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).map((k) => ({ payload: `virtual missing ${k}`, reply: 'NOTFOUND ' })),
      fc.constant({ payload: 'no/such/map key0', reply: 'PERM unknown map no/such/map' }),
      fc.constant({ payload: 'virtual', reply: 'PERM malformed request: expected "MAPNAME KEY"' }),
    ),
    fc.nat(3),
  )
  .map(([r, zeros]) => ({ bytes: `${'0'.repeat(zeros)}${netstring(r.payload)}`, reply: r.reply }));

const invalidNetstring: fc.Arbitrary<Token> = fc
  .oneof(
    fc.constant('x:abc,'),
    fc.constant(':abc,'),
    fc.constant(',3:abc,'),
    fc.constant(`${MAX_REQUEST + 1}:`),
    fc.constant('99999999999999999999:'),
    fc.constant('3:abc;'),
    fc.constant('3 :abc,'),
    fc.constant('-1:a,'),
  )
  .map((bytes) => ({ bytes, invalid: true as const }));

/** Valid requests, then possibly one invalid netstring followed by anything, or a request cut short. */
const stream = fc.record({
  valid: fc.array(validRequest, { maxLength: 30 }),
  end: fc.oneof(
    fc.constant({ kind: 'clean' as const, bytes: '' }),
    fc.tuple(invalidNetstring, fc.string({ maxLength: 40 })).map(([t, junk]) => ({ kind: 'invalid' as const, bytes: t.bytes + junk })),
    fc.nat(10).map((n) => ({ kind: 'truncated' as const, bytes: '25:virtual alice@example.o'.slice(0, n + 1) })),
  ),
  cuts: fc.array(fc.nat(2000), { maxLength: 12 }),
});

describe('sockmap under random and hostile input', () => {
  let backend: Backend;
  let sockmap: InProcessSockmap;

  before(async () => {
    backend = await startTestBackend({ virtual: [...Array.from({ length: KEYS }, (_, i) => [`key${i}`, value(i)] as const), ['big', BIG]] });
    sockmap = await sockmapInProcess(
      testConfig(backend.url, { sockmap: { listen: [{ address: 'inet:127.0.0.1:0' }], max_request_bytes: MAX_REQUEST, max_inflight: 8 } }),
    );
  });

  after(async () => {
    await sockmap?.close();
    await backend?.close();
  });

  it('answers every complete valid request exactly once, in order, whatever the cuts; closes after a framing error', async () => {
    let maxBuffered = 0;
    await fc.assert(
      fc.asyncProperty(stream, async ({ valid, end, cuts }) => {
        const bytes = Buffer.from(valid.map((t) => t.bytes).join('') + end.bytes);
        const expected = valid.map((t) => ('reply' in t ? t.reply : ''));
        const c = await SockmapClient.connect(sockmap.address);
        const points = [...new Set(cuts.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const p of [...points, bytes.length]) {
          if (p > from) c.write(bytes.subarray(from, p));
          from = p;
          // Separate reads, mostly.
          await tick();
          maxBuffered = Math.max(maxBuffered, sockmap.server.stats().buffered);
        }
        // A client that is done half-closes; the server still answers what it received.
        if (end.kind !== 'invalid') c.socket.end();
        await c.closed;
        assert.equal(c.raw.toString('utf8'), expected.map(netstring).join(''));
      }),
      { numRuns: 150 },
    );
    await waitUntil(() => sockmap.server.stats().connections === 0);
    assert.ok(maxBuffered <= MAX_REQUEST + 64 * 1024, `held ${maxBuffered} bytes`);
  });

  it('stops reading a client that sends without reading its replies, and loses nothing', async () => {
    const c = await SockmapClient.connect(sockmap.address);
    c.socket.pause();
    // Leading zeros make 2 KB requests for 8 KB replies: 10 MB of requests, 40 MB of replies, more than the kernel buffers.
    const request = `${'0'.repeat(2000)}${netstring('virtual big')}`;
    const count = 5000;
    let maxBuffered = 0;
    let backlog = 0;
    for (let sent = 0; sent < count; sent += 100) {
      c.write(request.repeat(100));
      await tick();
      backlog = Math.max(backlog, c.socket.writableLength);
      maxBuffered = Math.max(maxBuffered, sockmap.server.stats().buffered);
    }
    for (let i = 0; i < 10; i++) {
      await sleep(20);
      maxBuffered = Math.max(maxBuffered, sockmap.server.stats().buffered);
    }
    assert.ok(backlog > 1024 * 1024, `requests waited on the client's side: ${backlog} bytes at most`);
    assert.ok(maxBuffered < 1024 * 1024, `the server held ${maxBuffered} bytes for one connection`);

    c.socket.resume();
    const replies = await c.next(count, 60_000);
    assert.ok(replies.every((r) => r === `OK ${BIG}`));
    c.close();
  });

  it('batches misses of many connections into few HTTP requests, and coalesces identical ones', async () => {
    // The function answers after 100 ms, as a remote one takes a while: a miss with nothing in
    // flight goes out alone, and those that arrive while it is in flight share requests.
    const remote = await switchableUpstream({ kind: 'forward', to: backend.url, delayMs: 100 });
    const fresh = await sockmapInProcess(testConfig(remote.url, { sockmap: { listen: [{ address: 'inet:127.0.0.1:0' }] }, upstream: { batch_window_ms: 5 } }));
    const requests = recordRequests(backend);
    try {
      const clients = await Promise.all(Array.from({ length: KEYS }, () => SockmapClient.connect(fresh.address)));
      // All connections ask key0 at once, then each its own key.
      const replies = await Promise.all(clients.map(async (c, i) => [await c.request('virtual', 'key0'), await c.request('virtual', `key${i}`)]));
      assert.deepEqual(replies, clients.map((_, i) => [`OK ${value(0)}`, `OK ${value(i)}`]));
      const lookups = requests.paths.filter((p) => p === '/v1/lookup').length;
      assert.ok(lookups <= 4, `${lookups} HTTP requests for ${KEYS} connections: ${requests.bodies.map((b) => (JSON.parse(b) as LookupRequest).queries.length).join(' ')} keys`);
      assert.equal(requests.bodies.join('').split('"key0"').length - 1, 1, 'key0 was asked of the function once');
      for (const c of clients) c.close();
    } finally {
      await fresh.close();
      await remote.close();
    }
  });

  it('at max_connections a new connection closes the one idle longest; with none idle it is closed itself', async () => {
    const limited = await sockmapInProcess(testConfig(backend.url, { sockmap: { listen: [{ address: 'inet:127.0.0.1:0' }], max_connections: 2 } }));
    try {
      const a = await SockmapClient.connect(limited.address);
      assert.equal(await a.request('virtual', 'key1'), `OK ${value(1)}`);
      await sleep(20);
      const b = await SockmapClient.connect(limited.address);
      assert.equal(await b.request('virtual', 'key2'), `OK ${value(2)}`);
      // a is idle longest: it makes room, and sees EOF (Postfix would reconnect and resend).
      const c = await SockmapClient.connect(limited.address);
      await a.closed;
      assert.equal(await c.request('virtual', 'key3'), `OK ${value(3)}`);
      assert.equal(await b.request('virtual', 'key4'), `OK ${value(4)}`);
      assert.deepEqual(limited.server.stats(), { connections: 2, buffered: 0, refused: 0, evicted: 1, idleClosed: 0 });
      // Both in the middle of a request: nothing to close, so the new one is.
      b.write('20:virtual ');
      c.write('20:virtual ');
      await waitUntil(() => limited.server.stats().buffered === 2 * 'virtual '.length);
      const over = await SockmapClient.connect(limited.address);
      await over.closed;
      assert.equal(limited.server.stats().refused, 1);
      for (const x of [b, c]) x.close();
    } finally {
      await limited.close();
    }
  });
});
