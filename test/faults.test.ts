// Upstream faults: whatever the function does, every request is answered
// `error` (smtpd) or TEMP/TIMEOUT (socketmap) within the deadline + 50 ms of
// being written, the process stays up, and it answers again by itself within
// a second of the upstream's return. One proxy process per front end meets
// the faults one after the other; then storms with the circuit breaker on,
// 10,000 lookups in flight, the store going away and the backend restarting.
// The proxy's client is the default one (`upstream.url`: one endpoint,
// hedged to a second connection pool, slow calls counted as failures).

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CONTRACT_VERSION } from '../common/contract/lookup.js';
import { silentLogger } from '../proxy/log.js';
import { Resolver } from '../proxy/resolver/resolver.js';
import { createHedgedUpstream } from '../proxy/upstream/create.js';
import { BUDGET_BURST } from '../proxy/upstream/hedged.js';
import type { Backend } from '../lambda/local/backend.js';
import { TEST_CREDENTIALS, startTestBackend } from './helpers/backend.js';
import { blackHole, switchableUpstream, type SwitchableUpstream, type UpstreamMode } from './helpers/fault-servers.js';
import { FRONT_ENDS, startFrontEnd, type Answered, type FrontEnd } from './helpers/front-end.js';
import { MiB, memoryOf } from './helpers/memory.js';
import { sleep, testConfig, testResolver } from './helpers/resolver.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

const DEADLINE = 500;
const SLACK = 50;
/**
 * For 10,000 lookups in flight at once: both processes (this one and the
 * proxy) share two cores while all of them fall due within half a second.
 * On a slow VM the last answers came 56–104 ms after their deadline, at
 * 2733092 as since (5 of 6 runs over 50 ms): scheduling, not a wait for
 * the function, which would cost the 5 s deadline or forever.
 */
const STORM_SLACK = 150;
const N = 20;
const ENTRIES: Array<[string, string]> = Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`]);

/** A JSON answer to the request in `body`, changed by `edit`. */
function answer(body: string, edit: (r: { v: number; table: string; generation: number; results: unknown[] }) => void = () => {}): string {
  const q = JSON.parse(body) as { table: string; queries: unknown[] };
  const r = { v: CONTRACT_VERSION, table: q.table, generation: 1, results: q.queries.map(() => ({ s: 'not-found' })) };
  edit(r);
  return JSON.stringify(r);
}

/** Raw HTTP on the request's socket: a status line and headers promising more body than follows. */
function partialResponse(res: ServerResponse, body: string): void {
  res.socket!.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length + 500}\r\n\r\n${body.slice(0, 40)}`);
}

const http = (handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): UpstreamMode => ({ kind: 'http', handle });

interface Fault {
  name: string;
  mode: (backend: Backend) => UpstreamMode;
  /** What every lookup is answered; `timeout`: socketmap says TIMEOUT rather than TEMP. */
  expect: 'error' | 'timeout' | 'found';
}

const FAULTS: Fault[] = [
  { name: 'connection refused', mode: () => ({ kind: 'refuse' }), expect: 'error' },
  { name: 'no answer at all', mode: () => ({ kind: 'silent' }), expect: 'timeout' },
  { name: 'slow answers just under the deadline', mode: (b) => ({ kind: 'forward', to: b.url, delayMs: DEADLINE - 200 }), expect: 'found' },
  { name: 'slow answers just over the deadline', mode: (b) => ({ kind: 'forward', to: b.url, delayMs: DEADLINE + 100 }), expect: 'timeout' },
  {
    name: 'connection reset mid-body',
    mode: () =>
      http((_req, body, res) => {
        partialResponse(res, answer(body));
        setTimeout(() => res.socket!.resetAndDestroy(), 20);
      }),
    expect: 'error',
  },
  {
    name: 'truncated JSON (the connection ends before Content-Length)',
    mode: () =>
      http((_req, body, res) => {
        partialResponse(res, answer(body));
        res.socket!.end();
      }),
    expect: 'error',
  },
  { name: 'malformed JSON', mode: () => http((_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"v":1,"results":[')), expect: 'error' },
  { name: 'HTTP 500', mode: () => http((_req, _body, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}')), expect: 'error' },
  { name: 'HTTP 429', mode: () => http((_req, _body, res) => res.writeHead(429, { 'retry-after': '1' }).end()), expect: 'error' },
  { name: 'a batch missing answers', mode: () => http((_req, body, res) => res.writeHead(200).end(answer(body, (r) => r.results.pop()))), expect: 'error' },
  { name: 'answers for another table', mode: () => http((_req, body, res) => res.writeHead(200).end(answer(body, (r) => (r.table = 'other')))), expect: 'error' },
];

/** Fresh keys for each round, so every lookup is a miss that meets the upstream. */
let next = 0;
const freshKeys = (n: number): string[] => Array.from({ length: n }, () => `k${next++ % ENTRIES.length}`);

function assertAllFailed(answers: Answered[], expect: 'error' | 'timeout', deadline: number, kind: string, slack = SLACK): void {
  const late = answers.filter((a) => a.ms > deadline + slack);
  assert.equal(late.length, 0, `${late.length} answers later than ${deadline} + ${slack} ms, the latest after ${Math.max(...late.map((a) => a.ms)).toFixed(0)} ms`);
  for (const a of answers) {
    assert.equal(a.verdict, 'error', `${a.key}: ${a.verdict} ${a.text}`);
    if (kind === 'sockmap' && expect === 'timeout') assert.match(a.text, /^TIMEOUT /);
  }
}

/** Polls with fresh keys until the proxy answers from the function again; returns how long that took. */
async function recovery(fe: FrontEnd, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const [a] = await fe.lookupAll(freshKeys(1));
    if (a!.verdict === 'found') return performance.now() - t0;
    assert.ok(performance.now() - t0 < limitMs, `still failing ${(performance.now() - t0).toFixed(0)} ms after the upstream's return: ${a!.text}`);
    await sleep(20);
  }
}

for (const kind of FRONT_ENDS) {
  describe(`upstream faults, one after the other, through cloudtable ${kind}`, () => {
    let backend: Backend;
    let upstream: SwitchableUpstream;
    let fe: FrontEnd;
    const healthy = (): UpstreamMode => ({ kind: 'forward', to: backend.url });

    before(async () => {
      backend = await startTestBackend({ t: ENTRIES });
      upstream = await switchableUpstream({ kind: 'refuse' });
      await upstream.set(healthy());
      // A breaker that stays closed, so that every request meets the fault.
      fe = await startFrontEnd(kind, { upstream: upstream.url, table: 't', toml: `deadline_ms = ${DEADLINE}\n[breaker]\nfailures = 1000\n` });
    });
    after(async () => {
      await fe?.close();
      await upstream?.close();
      await backend?.close();
    });

    for (const f of FAULTS) {
      it(`${f.name}: every lookup answered ${f.expect === 'found' ? 'from the function' : 'a failure within the deadline'}, and again once the upstream is back`, async () => {
        await upstream.set(f.mode(backend));
        for (let round = 0; round < 2; round++) {
          // Twice: the second round may meet a connection the first left dirty.
          const answers = await fe.lookupAll(freshKeys(N));
          if (f.expect === 'found') for (const a of answers) assert.deepEqual([a.verdict, a.text], ['found', `v${a.key.slice(1)}`]);
          else assertAllFailed(answers, f.expect, DEADLINE, kind);
        }
        assert.ok(fe.alive(), 'process still up');
        await upstream.set(healthy());
        await recovery(fe, 1000);
      });
    }
  });
}

describe('429 and 5xx storms with the circuit breaker on', () => {
  it('2,000 lookups into a storm fail within the deadline, later ones at once, the upstream is spared, and service resumes within a second', async () => {
    const backend = await startTestBackend({ t: ENTRIES });
    let n = 0;
    const statuses = [429, 500, 502, 503, 504];
    const upstream = await switchableUpstream(http((_req, _body, res) => res.writeHead(statuses[n++ % statuses.length]!, { 'retry-after': '1' }).end()));
    const fe = await startFrontEnd('smtpd', { upstream: upstream.url, table: 't', toml: `deadline_ms = ${DEADLINE}\n` });
    try {
      assertAllFailed(await fe.lookupAll(freshKeys(2000)), 'error', DEADLINE, 'smtpd');
      const during = upstream.hits;
      // Batched and never retried; a batch still unanswered at the hedge delay may be
      // hedged, within the budget (its burst, at the start of a storm, plus 5 %).
      assert.ok(during <= 2000 / 100 + 2 + BUDGET_BURST + 1, `${during} requests for 2,000 lookups: batched, never retried, hedges within the budget`);
      const open = await fe.lookupAll(freshKeys(2000));
      assertAllFailed(open, 'error', DEADLINE / 2 - SLACK, 'smtpd'); // answered without waiting for the deadline: the circuit is open
      assert.ok(upstream.hits - during <= 10, `only recovery probes reach the upstream while open (${upstream.hits - during})`);
      assert.ok(fe.alive());
      await upstream.set({ kind: 'forward', to: backend.url });
      await recovery(fe, 1000);
    } finally {
      await fe.close();
      await upstream.close();
      await backend.close();
    }
  });
});

for (const kind of FRONT_ENDS) {
  describe(`10,000 lookups in flight through cloudtable ${kind}`, () => {
    it('every one answered a failure within the deadline + 150 ms, memory bounded, service back within a second of the upstream', async () => {
      const deadline = 1000;
      const backend = await startTestBackend({ t: ENTRIES });
      const upstream = await switchableUpstream({ kind: 'silent' });
      const toml = `deadline_ms = ${deadline}\n${kind === 'sockmap' ? '[sockmap]\nmax_inflight = 100\n' : ''}`;
      const fe = await startFrontEnd(kind, { upstream: upstream.url, table: 't', toml, connections: 100 });
      try {
        await upstream.set({ kind: 'forward', to: backend.url });
        await fe.lookupAll(freshKeys(200)); // warm: code paths compiled, a connection open
        await upstream.set({ kind: 'silent' });
        const before = memoryOf(fe.pid);
        const keys = Array.from({ length: 10_000 }, (_, i) => `storm${i}`);
        // Written over half a second, as a fleet of MTAs would send them (20,000 a second): from then
        // until the first deadline, all 10,000 are in flight together. Each is timed from its own write.
        assertAllFailed(await fe.lookupAll(keys, { spreadMs: deadline / 2 }), 'timeout', deadline, kind, STORM_SLACK);
        const storm = memoryOf(fe.pid);
        assert.ok(storm.peak - before.rss < 96 * MiB, `resident memory grew by ${((storm.peak - before.rss) / MiB).toFixed(0)} MiB`);
        assert.ok(fe.alive());
        await upstream.set({ kind: 'forward', to: backend.url });
        await recovery(fe, 1000);
      } finally {
        await fe.close();
        await upstream.close();
        await backend.close();
      }
    });
  });
}

describe('the store and the backend going away', () => {
  it('dynalite stopped mid-run: cached answers still served, misses fail within the deadline, the process stays up', async () => {
    const backend = await startTestBackend({ t: ENTRIES });
    const fe = await startFrontEnd('smtpd', { upstream: backend.url, table: 't', toml: `deadline_ms = ${DEADLINE}\n[breaker]\nfailures = 1000\n` });
    try {
      const warm = freshKeys(10);
      for (const a of await fe.lookupAll(warm)) assert.equal(a.verdict, 'found');
      await backend.engine.close();
      assertAllFailed(await fe.lookupAll(freshKeys(N)), 'error', DEADLINE, 'smtpd');
      for (const a of await fe.lookupAll(warm)) assert.deepEqual([a.verdict, a.text], ['found', `v${a.key.slice(1)}`]);
      assert.ok(fe.alive());
    } finally {
      await fe.close();
      await backend.close();
    }
  });

  it('the backend restarted on its port: misses fail at once while it is down, and succeed within a second of its return', async () => {
    const first = await startTestBackend({ t: ENTRIES });
    const port = first.port;
    const fe = await startFrontEnd('smtpd', { upstream: first.url, table: 't', toml: `deadline_ms = ${DEADLINE}\n[breaker]\nprobe_interval_ms = 100\n` });
    let second: Backend | undefined;
    try {
      for (const a of await fe.lookupAll(freshKeys(5))) assert.equal(a.verdict, 'found');
      await first.close();
      for (let i = 0; i < 3; i++) assertAllFailed(await fe.lookupAll(freshKeys(N)), 'error', DEADLINE, 'smtpd');
      assertAllFailed(await fe.lookupAll(freshKeys(N)), 'error', DEADLINE / 2 - SLACK, 'smtpd'); // the circuit is open: without waiting for the deadline
      second = await startTestBackend({ t: ENTRIES }, { port });
      await recovery(fe, 1000);
    } finally {
      await fe.close();
      await second?.close();
      if (!second) await first.close().catch(() => undefined); // failed before restarting it: the file must not hang on it
    }
  });
});

describe('circuit breaker', () => {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('answers misses within 1 ms once open (in process)', async () => {
    const hole = await blackHole();
    cleanup.push(() => hole.close());
    const { resolver } = testResolver(testConfig(hole.url, { upstream: { deadline_ms: 200 }, breaker: { failures: 2, probe_interval_ms: 100 } }));
    cleanup.push(() => resolver.close());
    await Promise.all([resolver.lookup('t', 'alias', 'a'), sleep(250)]);
    await Promise.all([resolver.lookup('t', 'alias', 'b'), sleep(250)]);
    assert.ok(resolver.circuitOpen, 'circuit open after 2 failures');
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const a = await resolver.lookup('t', 'alias', `miss${i}`);
      times.push(performance.now() - t0);
      assert.equal(a.kind, 'error');
    }
    times.sort((x, y) => x - y);
    assert.ok(times[Math.floor(times.length * 0.99)]! < 1, `p99 ${times[Math.floor(times.length * 0.99)]} ms`);
  });

  it('slow calls open it: the only endpoint answering after 4 s (within the 5 s deadline) opens the circuit after a few lookups, not a few deadlines', async () => {
    const backend = await startTestBackend({ t: ENTRIES });
    cleanup.push(() => backend.close());
    const upstream = await switchableUpstream({ kind: 'forward', to: backend.url });
    cleanup.push(() => upstream.close());
    // The proxy's own client for `upstream.url`, every default kept (deadline 5 s, slow calls adaptive, >= 1 s).
    const config = testConfig(upstream.url);
    const resolver = new Resolver(config, createHedgedUpstream(config, async () => TEST_CREDENTIALS), silentLogger);
    cleanup.push(() => resolver.close());
    for (const a of await Promise.all(freshKeys(20).map((k) => resolver.lookup('t', 'alias', k)))) assert.equal(a.kind, 'found');
    await upstream.set({ kind: 'forward', to: backend.url, delayMs: 4000 });
    const t0 = performance.now();
    let lookups = 0;
    while (!resolver.circuitOpen) {
      const a = await resolver.lookup('t', 'alias', freshKeys(1)[0]!);
      lookups++;
      assert.equal(a.kind, 'error', 'never "not found" for what could not be asked');
      assert.ok(lookups <= config.breaker.failures, `still closed after ${lookups} lookups, ${(performance.now() - t0).toFixed(0)} ms`);
    }
    const opened = performance.now() - t0;
    // Each slow lookup fails at the slow-call threshold (1 s), not at the deadline (5 s); a 4 s answer is
    // no failure at all for a client that only knows the deadline, so that circuit never opened.
    assert.ok(opened <= 3500, `open after ${lookups} lookups, ${opened.toFixed(0)} ms`);
    const t1 = performance.now();
    const a = await resolver.lookup('t', 'alias', freshKeys(1)[0]!);
    assert.ok(a.kind === 'error' && /circuit open/.test(a.reason), JSON.stringify(a));
    assert.ok(performance.now() - t1 < 5, 'answered at once while open');
  });

  it('through smtpd: answers at once while open, and succeeds within 1 s of the backend’s return', async () => {
    const hole = await blackHole();
    cleanup.push(() => hole.close());
    const port = hole.port;
    const peer = SmtpdPeer.withConfig(hole.url, `deadline_ms = 300\n[breaker]\nfailures = 2\nprobe_interval_ms = 100\n`);
    cleanup.push(() => peer.kill());
    await peer.handshake('t');
    // Two misses, one after the other, meet the black hole and time out: the circuit opens.
    for (const id of ['00000001', '00000002']) {
      peer.write(request('t', 'lookup', 'alias', id, `key${id}`));
      assert.match((await peer.lines(1, 2000))[0]!, /\|error\|/);
    }
    await sleep(50); // the aborted HTTP request is counted just after the callers' deadline
    const t0 = performance.now();
    peer.write(request('t', 'lookup', 'alias', '00000003', 'root3'));
    const [open] = await peer.lines(1, 2000);
    assert.match(open!, /^lookup-result\|00000003\|error\|.*circuit open/);
    assert.ok(performance.now() - t0 < 100, `open-circuit answer took ${(performance.now() - t0).toFixed(1)} ms (deadline 300)`);

    // The backend comes back on the same port.
    await hole.close();
    const backend = await startTestBackend({ t: [['root', 'alice']] }, { port });
    cleanup.push(() => backend.close());
    const back = performance.now();
    let id = 0x100;
    for (;;) {
      const hex = (id++).toString(16).padStart(8, '0');
      peer.write(request('t', 'lookup', 'alias', hex, 'root'));
      const [line] = await peer.lines(1, 2000);
      if (line === `lookup-result|${hex}|found|alice`) break;
      assert.ok(performance.now() - back < 1000, `still failing ${(performance.now() - back).toFixed(0)} ms after the backend returned: ${line}`);
      await sleep(20);
    }
    assert.ok(performance.now() - back < 1000);
  });
});
