// The local backend's billing meter against a hand-computed expectation: a
// fixed sequence of requests over real HTTP (lookups of found and missing
// keys, a generation check, a listing, a small load step by step) and the
// invocations, request units, billed duration and dollars AWS would bill.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { FUNCTION_MEMORY_MB } from '../common/function-sizes.js';
import { BILLING_PATH, type Backend } from '../lambda/local/backend.js';
import type { BillingRow, BillingSnapshot } from '../lambda/local/billing.js';
import { billingRegistry } from '../lambda/local/billing-metrics.js';
import { LIST_PRICES } from '../lambda/local/list-prices.js';
import { RequestSigner } from '../proxy/http/signer.js';
import { TEST_CREDENTIALS, startTestBackend, testAdminClient, testReader } from './helpers/backend.js';

let backend: Backend;

before(async () => {
  backend = await startTestBackend(
    { aliases: [['alice', 'alice@example.org'], ['bob', 'bob@example.org'], ['carol', 'carol@example.org']] },
    { collectEveryMs: 0 },
  );
});
after(() => backend.close());

/** Each expected row: invocations, read units, write units. */
type Expected = Record<string, [number, number, number]>;

function counts(s: BillingSnapshot): Expected {
  return Object.fromEntries(s.rows.map((r) => [`${r.function} ${r.operation}`, [r.invocations, r.readUnits, r.writeUnits]]));
}

test('the backend counts what AWS would bill for a fixed sequence of requests', async () => {
  // The table was seeded straight into the store: no function ran, nothing is billed to one.
  assert.deepEqual(backend.meter.snapshot().rows, []);
  assert.ok(backend.meter.snapshot().outside.writeUnits > 0);

  const reader = testReader(backend.url);
  const admin = testAdminClient(backend.url);
  try {
    // META, strongly consistent, under 4 KB: 1 RRU; two keys read eventually consistent, found or not: 0.5 each.
    const found = await reader.lookup('aliases', [{ service: 'alias', key: 'alice' }, { service: 'alias', key: 'nobody' }], 5000);
    assert.deepEqual(found.results.map((r) => r.s), ['found', 'not-found']);
    // A generation check reads META alone: 1 RRU.
    await reader.lookup('aliases', [], 5000);
    // A listing: META (1 RRU) and one strongly consistent Query page of three small items (under 4 KB: 1 RRU).
    const page = await reader.list('entries', 'aliases', undefined, 5000);
    assert.equal(page.entries.length, 3);

    // A small load of a new table, step by step. Every item is under 1 KB:
    // each write 1 WRU (deleting an item that is not there too), each META read 1 RRU.
    const begun = await admin.begin({ table: 'fresh', service: 'alias', owner: 'billing-test' }); // META read; META write; index put
    const entries = [{ key: 'x', value: 'x@example.org' }, { key: 'y', value: 'y@example.org' }, { key: 'z', value: 'z@example.org' }];
    await admin.send('fresh', begun.txn, entries); // META read; 3 entries; META write
    await admin.validate('fresh', begun.txn, 3); // META read; one Query page of the shadow (1 RRU); META write
    await admin.apply('fresh', begun.txn); // META read; META write
    await admin.commit('fresh', begun.txn); // META read; META write; the (absent) error list deleted
  } finally {
    await reader.close();
    await admin.close();
  }

  const snap = backend.meter.snapshot();
  assert.deepEqual(counts(snap), {
    'reader lookup': [1, 1 + 0.5 + 0.5, 0],
    'reader generation': [1, 1, 0],
    'reader entries': [1, 1 + 1, 0],
    'admin begin': [1, 1, 1 + 1],
    'admin send': [1, 1, 3 + 1],
    'admin validate': [1, 1 + 1, 1],
    'admin apply': [1, 1, 1],
    'admin commit': [1, 1, 1 + 1],
  });

  // Billed duration: each invocation rounded up to the next millisecond.
  for (const r of snap.rows) {
    assert.ok(Number.isInteger(r.billedMs) && r.billedMs >= r.durationMs && r.billedMs < r.durationMs + r.invocations, `${r.function} ${r.operation}: ${r.durationMs} ms billed ${r.billedMs}`);
  }

  // Dollars at list prices: requests, duration at the deployed memory, request units.
  const read = snap.functions.reader;
  assert.equal(read.invocations, 3);
  assert.equal(read.readUnits, 5);
  const expected = 3 * 0.2e-6 + (read.billedMs / 1000) * (FUNCTION_MEMORY_MB.reader / 1024) * 0.0000133334 + 5 * 0.125e-6;
  assert.ok(Math.abs(read.dollars.total - expected) < 1e-15, `${read.dollars.total} vs ${expected}`);
  const adminTotal = snap.functions.admin;
  assert.deepEqual([adminTotal.invocations, adminTotal.readUnits, adminTotal.writeUnits], [5, 6, 10]);
  assert.ok(Math.abs(adminTotal.dollars.writes - 10 * 0.625e-6) < 1e-15);
  assert.equal(snap.prices.region, LIST_PRICES.region);
});

test('the counts are served signed as JSON, and as Prometheus metrics labelled by function and operation only', async () => {
  const url = new URL(backend.url);
  const unsigned = await request(`${backend.url}${BILLING_PATH}`);
  assert.equal(unsigned.statusCode, 403);
  await unsigned.body.dump();

  const headers = await new RequestSigner('us-east-1', () => Promise.resolve(TEST_CREDENTIALS)).sign({ method: 'GET', url, path: BILLING_PATH, body: '', headers: {} });
  const res = await request(`${backend.url}${BILLING_PATH}`, { headers });
  assert.equal(res.statusCode, 200);
  const served = (await res.body.json()) as BillingSnapshot;
  const lookup = served.rows.find((r: BillingRow) => r.function === 'reader' && r.operation === 'lookup');
  assert.equal(lookup?.readUnits, 2);

  const text = await billingRegistry(backend.meter).metrics();
  assert.match(text, /^cloudtable_backend_invocations_total\{function="reader",operation="lookup"\} 1$/m);
  assert.match(text, /^cloudtable_backend_write_units_total\{function="admin",operation="send"\} 4$/m);
  assert.doesNotMatch(text, /aliases|fresh|alice/);
});
