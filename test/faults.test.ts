// Upstream faults: whatever the function does, every request is answered
// `error` within the deadline (+50 ms), the process stays up, an open circuit
// answers misses at once, and recovery follows the backend's return.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CONTRACT_VERSION } from '../lambda/contract.js';
import { startTestBackend } from './helpers/backend.js';
import { blackHole, httpFault, refusedPort, type FaultServer } from './helpers/fault-servers.js';
import { sleep, testConfig, testResolver } from './helpers/resolver.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

const DEADLINE = 500;
const SLACK = 50;
const N = 20;

/** smtpd with a short deadline and a breaker that stays closed, so every request meets the fault. */
function peerFor(url: string): SmtpdPeer {
  return SmtpdPeer.withConfig(url, `deadline_ms = ${DEADLINE}\n[breaker]\nfailures = 1000\n`);
}

async function expectAllErrors(peer: SmtpdPeer, tag: string): Promise<void> {
  let batch = '';
  for (let i = 0; i < N; i++) batch += request('t', 'lookup', 'alias', `${tag}${i.toString(16).padStart(4, '0')}`, `key${i}`);
  const t0 = performance.now();
  peer.write(batch);
  const lines = await peer.lines(N, DEADLINE * 4);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed <= DEADLINE + SLACK, `answers took ${elapsed.toFixed(0)} ms`);
  const ids = new Set<string>();
  for (const l of lines) {
    const m = new RegExp(`^lookup-result\\|(${tag}[0-9a-f]{4})\\|error(\\|[^\\r\\n]*)?$`).exec(l);
    assert.ok(m, `expected an error line, got ${JSON.stringify(l)}`);
    ids.add(m[1]!);
  }
  assert.equal(ids.size, N);
  assert.equal(peer.child.exitCode, null, 'process still up');
}

const faults: Array<[string, () => Promise<FaultServer | { url: string; close(): Promise<void> }>]> = [
  ['backend stopped (connection refused)', async () => ({ url: `http://127.0.0.1:${await refusedPort()}`, close: async () => {} })],
  ['black hole (accepts, never answers)', () => blackHole()],
  ['HTTP 500', () => httpFault((_req, _body, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}'))],
  ['HTTP 429', () => httpFault((_req, _body, res) => res.writeHead(429).end())],
  ['malformed JSON', () => httpFault((_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"v":1,"results":['))],
  [
    'a batch missing answers',
    () =>
      httpFault((_req, body, res) => {
        const q = JSON.parse(body) as { table: string; queries: unknown[] };
        const results = q.queries.slice(1).map(() => ({ s: 'not-found' }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: CONTRACT_VERSION, table: q.table, generation: 1, results }));
      }),
  ],
  [
    'answers for another table',
    () =>
      httpFault((_req, body, res) => {
        const q = JSON.parse(body) as { queries: unknown[] };
        res.writeHead(200).end(JSON.stringify({ v: CONTRACT_VERSION, table: 'other', generation: 1, results: q.queries.map(() => ({ s: 'not-found' })) }));
      }),
  ],
];

describe('upstream faults through cloudtable smtpd', () => {
  for (const [name, make] of faults) {
    it(`${name}: every request answered error within the deadline, process stays up`, async () => {
      const fault = await make();
      const peer = peerFor(fault.url);
      try {
        await peer.handshake('t');
        await expectAllErrors(peer, 'a000');
        await expectAllErrors(peer, 'b000'); // and again, on a connection the fault may have left dirty
      } finally {
        peer.kill();
        await fault.close();
      }
    });
  }
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
