// DynamoDB throttling, which dynalite never does, injected between the real
// SDK and dynalite: an HTTP relay that moves keys of BatchGetItem answers
// into UnprocessedKeys, or refuses calls with the throttling exception.
// Retried keys must come back; keys throttled past the last attempt must be
// errors, never "not found".

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Backend } from '../lambda/local/backend.js';
import { LOCAL_TABLE_NAME } from '../lambda/local/backend.js';
import { lookup } from '../lambda/lookup.js';
import { Store } from '../lambda/store/store.js';
import { startTestBackend } from './helpers/backend.js';

interface Throttle {
  /** How many BatchGetItem calls to tamper with. */
  calls: number;
  /** Keys (sort-key values) to leave unprocessed in each tampered call. */
  unprocessed?: (key: string) => boolean;
  /** Refuse the call outright with ProvisionedThroughputExceededException. */
  refuse?: boolean;
}

async function throttlingRelay(target: string): Promise<{ url: string; batchGets: number; set(t: Throttle): void; close(): Promise<void> }> {
  let throttle: Throttle = { calls: 0 };
  let batchGets = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isBatchGet = String(req.headers['x-amz-target']).endsWith('.BatchGetItem');
      if (isBatchGet) batchGets++;
      const tamper = isBatchGet && throttle.calls > 0;
      if (tamper) throttle.calls--;
      if (tamper && throttle.refuse) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'throttled by the test relay' }));
        return;
      }
      const u = new URL(target);
      const up = httpRequest({ host: u.hostname, port: u.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        const out: Buffer[] = [];
        upRes.on('data', (c: Buffer) => out.push(c));
        upRes.on('end', () => {
          let text = Buffer.concat(out).toString();
          if (tamper && throttle.unprocessed && upRes.statusCode === 200) {
            const json = JSON.parse(text) as { Responses: Record<string, Array<Record<string, { S: string }>>>; UnprocessedKeys: Record<string, { Keys: unknown[] }> };
            const sent = JSON.parse(body.toString()) as { RequestItems: Record<string, { Keys: Array<Record<string, { S: string }>> }> };
            for (const [t, items] of Object.entries(json.Responses)) {
              const keep = items.filter((i) => !throttle.unprocessed!(i.sk!.S));
              json.Responses[t] = keep;
              const keys = sent.RequestItems[t]!.Keys.filter((k) => throttle.unprocessed!(k.sk!.S));
              if (keys.length > 0) json.UnprocessedKeys = { [t]: { ...sent.RequestItems[t], Keys: keys } };
            }
            text = JSON.stringify(json);
          }
          const headers = { ...upRes.headers };
          delete headers['content-length'];
          delete headers['x-amz-crc32'];
          res.writeHead(upRes.statusCode ?? 500, headers);
          res.end(text);
        });
      });
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get batchGets() {
      return batchGets;
    },
    set: (t) => {
      throttle = t;
      batchGets = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('BatchGetItem throttling', () => {
  let backend: Backend;
  let relay: Awaited<ReturnType<typeof throttlingRelay>>;
  let store: Store;
  let client: DynamoDBClient;
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);

  before(async () => {
    backend = await startTestBackend({ t: keys.map((k) => [k, `v-${k}`] as const) });
    relay = await throttlingRelay(backend.engine.endpoint);
    client = new DynamoDBClient({ endpoint: relay.url, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    store = new Store(client, LOCAL_TABLE_NAME, { attempts: 4, baseMs: 1, capMs: 5 });
  });
  after(async () => {
    client.destroy();
    await relay.close();
    await backend.close();
  });

  const ask = (ks: string[]) => lookup(store, { v: 1, table: 't', queries: ks.map((key) => ({ service: 'alias', key })) });

  it('retries unprocessed keys until they are read', async () => {
    relay.set({ calls: 2, unprocessed: (k) => Number(k.slice(1)) % 2 === 0 });
    const res = await ask([...keys, 'absent']);
    assert.equal(relay.batchGets, 3);
    keys.forEach((k, i) => assert.deepEqual(res.results[i], { s: 'found', value: `v-${k}` }));
    assert.deepEqual(res.results[keys.length], { s: 'not-found' });
  });

  it('answers error, never not-found, for keys still unprocessed after the last attempt', async () => {
    relay.set({ calls: 100, unprocessed: (k) => k === 'k3' || k === 'absent' });
    const res = await ask(['k1', 'k3', 'absent', 'gone']);
    assert.equal(relay.batchGets, 4, 'four attempts in all');
    assert.deepEqual(res.results[0], { s: 'found', value: 'v-k1' });
    assert.equal(res.results[1]!.s, 'error');
    assert.equal(res.results[2]!.s, 'error');
    assert.deepEqual(res.results[3], { s: 'not-found' });
  });

  it('answers error for every key when every call is refused, and recovers after a refusal', async () => {
    relay.set({ calls: 100, refuse: true });
    const res = await ask(['k1', 'nothing']);
    assert.deepEqual(
      res.results.map((r) => r.s),
      ['error', 'error'],
    );
    assert.match((res.results[0] as { reason: string }).reason, /ProvisionedThroughputExceeded/);
    relay.set({ calls: 1, refuse: true });
    const again = await ask(['k1', 'nothing']);
    assert.deepEqual(again.results, [{ s: 'found', value: 'v-k1' }, { s: 'not-found' }]);
    assert.equal(relay.batchGets, 2);
  });
});
