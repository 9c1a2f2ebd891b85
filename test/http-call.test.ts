// The one HTTP core of every signed call (proxy/http/): each failure has its
// code, timing is reported per endpoint, the caller's signal abandons a call,
// the status is read before the body, and both clients (lookups and admin)
// go through it — against the real local backend and misbehaving servers.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CallError, type CallFailure } from '../proxy/http/call-error.js';
import { Endpoint, type CallTiming } from '../proxy/http/endpoint.js';
import { signedCall } from '../proxy/http/signed-call.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { startTestBackend, TEST_CREDENTIALS, testAdminClient, testReader } from './helpers/backend.js';
import { blackHole, httpFault, refusedPort, type FaultServer } from './helpers/fault-servers.js';
import type { Backend } from '../lambda/local/backend.js';

const signer = new RequestSigner('us-east-1', async () => TEST_CREDENTIALS);

function endpoint(url: string): Endpoint {
  return new Endpoint({ url, signer, connections: 2, connectTimeoutMs: 1000 });
}

const call = (e: Endpoint, o: { timeoutMs?: number; signal?: AbortSignal; parse?: (j: unknown) => unknown; secrets?: string[] } = {}): Promise<unknown> =>
  signedCall(e, {
    path: '/v1/lookup',
    request: { v: 1, table: 't', queries: [] },
    timeoutMs: o.timeoutMs ?? 2000,
    maxResponseBytes: 1024,
    parse: o.parse ?? ((j) => j),
    ...(o.signal && { signal: o.signal }),
    ...(o.secrets && { secrets: o.secrets }),
  });

async function failsWith(p: Promise<unknown>, code: CallFailure, extra: Partial<Pick<CallError, 'status' | 'functionCode'>> = {}): Promise<CallError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CallError, String(err));
  assert.equal(err.code, code, err.message);
  for (const [k, v] of Object.entries(extra)) assert.equal(err[k as keyof CallError], v, k);
  return err;
}

describe('the HTTP core of signed calls', () => {
  const servers: FaultServer[] = [];
  let backend: Backend;
  before(async () => {
    backend = await startTestBackend({ aliases: [['root', 'alice']] });
  });
  after(async () => {
    await backend.close();
    await Promise.all(servers.map((s) => s.close()));
  });
  const serve = async (s: Promise<FaultServer>): Promise<FaultServer> => {
    const server = await s;
    servers.push(server);
    return server;
  };

  it('both clients call the real backend through it, and every call is timed on its endpoint', async () => {
    const reader = testReader(backend.url);
    const admin = testAdminClient(backend.url);
    const timings: CallTiming[] = [];
    reader.endpoint.onCall((t) => timings.push(t));
    admin.endpoint.onCall((t) => timings.push(t));
    const r = await reader.lookup('aliases', [{ service: 'alias', key: 'root' }], 2000);
    assert.deepEqual(r.results, [{ s: 'found', value: 'alice' }]);
    assert.ok((await admin.status()).tables.some((t) => t.table === 'aliases'));
    await failsWith(reader.lookup('nosuch', [], 2000), 'function-error', { status: 404, functionCode: 'unknown-table' });
    assert.deepEqual(
      timings.map((t) => [t.path, t.outcome]),
      [
        ['/v1/lookup', 'ok'],
        ['/v1/admin/status', 'ok'],
        ['/v1/lookup', 'function-error'],
      ],
    );
    for (const t of timings) assert.ok(t.statusMs !== undefined && t.statusMs <= t.ms && t.ms < 2000, JSON.stringify(t));
    await Promise.all([reader.close(), admin.close()]);
  });

  it('a hung server: timeout at the call time limit; the caller giving up: aborted at once', async () => {
    const hole = await serve(blackHole());
    const e = endpoint(hole.url);
    let started = performance.now();
    await failsWith(call(e, { timeoutMs: 300 }), 'timeout');
    const took = performance.now() - started;
    assert.ok(took >= 290 && took < 1500, `${took} ms`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    started = performance.now();
    await failsWith(call(e, { timeoutMs: 5000, signal: ac.signal }), 'aborted');
    assert.ok(performance.now() - started < 1500);
    await e.close();
  });

  it('no server: network; no credentials: credentials', async () => {
    await failsWith(call(endpoint(`http://127.0.0.1:${await refusedPort()}`)), 'network');
    const noCredentials = new Endpoint({ url: backend.url, signer: new RequestSigner('us-east-1', () => Promise.reject(new Error('no profile'))), connections: 1, connectTimeoutMs: 1000 });
    await failsWith(call(noCredentials), 'credentials');
    await noCredentials.close();
  });

  it('reads the status before the body: a failure answered with an endless body is an http-status at once', async () => {
    const endless = await serve(
      httpFault((_req, _body, res) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        const chunk = 'x'.repeat(16 * 1024);
        const pump = (): void => {
          while (res.write(chunk));
          res.once('drain', pump);
        };
        pump();
      }),
    );
    const started = performance.now();
    await failsWith(call(endpoint(endless.url), { timeoutMs: 5000 }), 'http-status', { status: 503 });
    assert.ok(performance.now() - started < 2000);
  });

  it('answers that do not fit: bad-response (too large, not JSON, not the contract), never a partial result', async () => {
    const big = await serve(httpFault((_q, _b, res) => res.end(JSON.stringify({ v: 1, pad: 'x'.repeat(4096) }))));
    await failsWith(call(endpoint(big.url)), 'bad-response');
    const garbage = await serve(httpFault((_q, _b, res) => res.end('{"v":1,')));
    await failsWith(call(endpoint(garbage.url)), 'bad-response');
    const wrong = await serve(httpFault((_q, _b, res) => res.end('{"v":2}')));
    const reader = testReader(wrong.url);
    await failsWith(reader.lookup('t', [], 2000), 'bad-response');
    await reader.close();
  });

  it('withholds error text that echoes a key of the request', async () => {
    const echo = await serve(httpFault((_q, body, res) => res.writeHead(400).end(JSON.stringify({ error: 'bad-request', message: `cannot read ${body}` }))));
    const reader = testReader(echo.url);
    const err = await failsWith(reader.lookup('t', [{ service: 'credentials', key: 'alice:secret-password' }], 2000), 'function-error', { status: 400, functionCode: 'bad-request' });
    assert.doesNotMatch(err.message, /secret-password/);
    assert.match(err.message, /withheld/);
    await reader.close();
  });
});
