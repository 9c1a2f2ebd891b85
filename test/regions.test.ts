// Several regions on this host (lambda/local/regions.ts): the home backend,
// a second region's engine and reader filled by the replicator with random
// delays and reordering, the admin function waiting for the replica before
// each swap (lambda/store/replicas.ts). Real handlers over real HTTP; the
// property drives loads, aborted applies and rollbacks while lookups run in
// both regions, and checks every answer against the generation it names.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startRegions, type MultiRegionBackend } from '../lambda/local/regions.js';
import { META_SK, SK } from '../lambda/store/schema.js';
import type { AdminClient } from '../proxy/admin/client.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { TEST_CREDENTIALS, TEST_ENV, testAdminClient, testReader } from './helpers/backend.js';
import { CliProcess } from './helpers/cli.js';

const TABLE = 'aliases';
const KEYS = Array.from({ length: 40 }, (_, i) => `user${i}`);
/** Every value names the load it came from, so an answer shows which generation it was read from. */
const valueOf = (load: number, key: string) => `L${load}-${key}`;

/** Two regions, items replicated within `maxDelayMs`, garbage collected only when asked, after `graceMs`. */
function twoRegions(maxDelayMs: number, graceMs: number): Promise<MultiRegionBackend> {
  return startRegions({
    credentials: TEST_CREDENTIALS,
    regions: 2,
    delay: { minMs: 0, maxMs: maxDelayMs },
    replicaWait: { timeoutMs: 15_000, pollMs: 20 },
    collectEveryMs: 0,
    limits: { graceMs },
  });
}

describe('regions: a swap waits for every region, no region answers from half a generation', () => {
  let cloud: MultiRegionBackend;
  let admin: AdminClient;
  let readers: HttpUpstream[];
  /** Which load each generation holds. */
  const loadOf = new Map<number, number>();
  let loads = 0;

  before(async () => {
    cloud = await twoRegions(150, 1000);
    admin = testAdminClient(cloud.home.url);
    readers = cloud.regions.map((r) => testReader(r.url));
  });

  after(async () => {
    await admin.close();
    for (const r of readers) await r.close();
    await cloud.close();
  });

  /** begin → send → validate → apply, then commit or roll back; returns the generation it applied. */
  /** Items of the shadow generation the other region held the moment apply returned. */
  let heldAtApply = -1;
  async function replace(finish: 'commit' | 'rollback'): Promise<number> {
    const load = ++loads;
    const b = await admin.begin({ table: TABLE, service: 'alias', owner: 'regions-test' });
    loadOf.set(b.shadow, load);
    await admin.send(TABLE, b.txn, KEYS.map((key, i) => ({ key, value: valueOf(load, key), line: i + 1 })));
    assert.ok((await admin.validate(TABLE, b.txn, KEYS.length)).ok);
    await admin.apply(TABLE, b.txn);
    heldAtApply = await cloud.regions[1]!.store.countGeneration(TABLE, b.shadow, true);
    if (finish === 'commit') await admin.commit(TABLE, b.txn);
    else await admin.rollback(TABLE, b.txn);
    return b.shadow;
  }

  /** Every answer is complete and of exactly the generation it names. */
  async function checkedLookup(reader: HttpUpstream, region: string): Promise<void> {
    const r = await reader.lookup(TABLE, KEYS.map((key) => ({ service: 'alias', key })), 5000);
    const load = loadOf.get(r.generation);
    assert.ok(load !== undefined, `${region} answered from generation ${r.generation}, never loaded`);
    r.results.forEach((res, i) => {
      assert.deepEqual(res, { s: 'found', value: valueOf(load, KEYS[i]!) }, `${region}, generation ${r.generation}, ${KEYS[i]}`);
    });
  }

  it('apply returns only once the other region holds the new generation: a lookup there at once sees all of it', async () => {
    cloud.replicator.delay = { minMs: 300, maxMs: 500 };
    const copiesBefore = cloud.replicator.copies;
    const started = Date.now();
    const generation = await replace('commit');
    // The last entries were written moments before apply, and each copy takes at least 300 ms.
    assert.equal(heldAtApply, KEYS.length, 'the other region held the whole generation when apply returned');
    // The entries are all there; META itself may still be on its way (a
    // brand-new table is unknown there until it arrives): each answer is
    // whole, and the new generation shows up within the replication delay.
    for (;;) {
      const r = await readers[1]!.lookup(TABLE, KEYS.map((key) => ({ service: 'alias', key })), 5000).catch((err: { functionCode?: string }) => {
        assert.equal(err.functionCode, 'unknown-table');
        return undefined;
      });
      if (r) await checkedLookup(readers[1]!, 'local-2');
      if (r?.generation === generation) break;
      assert.ok(Date.now() - started < 5000, 'the new generation reached the other region within the replication delay');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(cloud.replicator.copies - copiesBefore >= KEYS.length);
    await cloud.replicator.drain();
  });

  it('property: under random replication delays and reordering, loads, aborted applies and rollbacks never make a region answer from a partial generation', async () => {
    let lookups = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 400 }),
        fc.array(fc.constantFrom('commit', 'abort', 'undo'), { minLength: 2, maxLength: 3 }),
        async (maxDelay, ops) => {
          if (loads === 0) await replace('commit');
          await cloud.replicator.drain();
          cloud.replicator.delay = { minMs: 0, maxMs: maxDelay };
          let running = true;
          let failure: unknown;
          const pollers = cloud.regions.map(async (region, i) => {
            while (running) {
              await checkedLookup(readers[i]!, region.name).catch((err: unknown) => {
                failure ??= err;
                running = false;
              });
              lookups++;
            }
          });
          try {
            for (const op of ops) {
              if (!running) break;
              if (op === 'undo') await admin.undo({ table: TABLE }).catch((err: { functionCode?: string }) => assert.equal(err.functionCode, 'nothing-to-undo'));
              else await replace(op === 'commit' ? 'commit' : 'rollback');
              assert.equal(heldAtApply, KEYS.length);
            }
            await cloud.replicator.drain();
          } finally {
            running = false;
            await Promise.all(pollers);
          }
          if (failure) throw failure;
        },
      ),
      { numRuns: 4 },
    );
    assert.ok(lookups > 50, `only ${lookups} lookups ran`);
  });
});

describe('regions: the collector spares what a lagging region still names', () => {
  let cloud: MultiRegionBackend;
  let admin: AdminClient;
  let far: HttpUpstream;

  before(async () => {
    cloud = await twoRegions(50, 200);
    admin = testAdminClient(cloud.home.url);
    far = testReader(cloud.regions[1]!.url);
  });

  after(async () => {
    await admin.close();
    await far.close();
    await cloud.close();
  });

  async function load(n: number): Promise<number> {
    const b = await admin.begin({ table: TABLE, service: 'alias', owner: 'regions-gc' });
    await admin.send(TABLE, b.txn, KEYS.map((key, i) => ({ key, value: valueOf(n, key), line: i + 1 })));
    assert.ok((await admin.validate(TABLE, b.txn, KEYS.length)).ok);
    await admin.apply(TABLE, b.txn);
    await admin.commit(TABLE, b.txn);
    return b.shadow;
  }

  /** The far region answers every key, from one whole generation: load `n`'s. */
  async function farAnswers(n: number): Promise<void> {
    const r = await far.lookup(TABLE, KEYS.map((key) => ({ service: 'alias', key })), 5000);
    r.results.forEach((res, i) => assert.deepEqual(res, { s: 'found', value: valueOf(n, KEYS[i]!) }, `far region, generation ${r.generation}, ${KEYS[i]}`));
  }

  async function collectAfterGrace(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 400));
    await cloud.home.admin.collect(10_000);
  }

  it('a generation the far region still serves (its META lagging two swaps behind) is not deleted anywhere; once META arrives, it is', async () => {
    const a = await load(1);
    await cloud.replicator.drain();
    await farAnswers(1);
    // From now on the far region's META lags: entries replicate (applies wait for them), META does not.
    cloud.replicator.hold = (key) => key[SK]?.S === META_SK;
    const b = await load(2);
    const c = await load(3);
    await cloud.replicator.drain();
    // At home A is neither active (C) nor kept (B): garbage. The far region still has A active.
    await collectAfterGrace();
    for (const region of cloud.regions) {
      assert.equal(await region.store.countGeneration(TABLE, a, true), KEYS.length, `${region.name} still holds generation ${a} whole`);
    }
    await farAnswers(1);
    // The far region catches up: it names C (and B kept), and A goes.
    cloud.replicator.release();
    await cloud.replicator.drain();
    await farAnswers(3);
    await collectAfterGrace();
    await cloud.replicator.drain();
    for (const region of cloud.regions) assert.equal(await region.store.countGeneration(TABLE, a, true), 0, `${region.name}: generation ${a} collected`);
    for (const region of cloud.regions) assert.equal(await region.store.countGeneration(TABLE, b, true), KEYS.length, `${region.name}: ${b} kept for rollback`);
    assert.ok(c > b && b > a);
  });
});

describe('regions: cloudtable backend --regions 2', () => {
  it('serves the home region and a replica region; a load through home reaches the other whole', async () => {
    const cli = new CliProcess(['backend', '--regions', '2', '--port', '0', '--replication-ms', '200'], TEST_ENV);
    try {
      const home = (await cli.waitFor(/region local-1 on (http:\S+) \(home/))[1]!;
      const far = (await cli.waitFor(/region local-2 on (http:\S+) \(reader/))[1]!;
      const admin = testAdminClient(home);
      const reader = testReader(far);
      try {
        const b = await admin.begin({ table: TABLE, service: 'alias', owner: 'regions-cli' });
        await admin.send(TABLE, b.txn, [{ key: 'root', value: 'alice', line: 1 }]);
        assert.ok((await admin.validate(TABLE, b.txn, 1)).ok);
        await admin.apply(TABLE, b.txn);
        await admin.commit(TABLE, b.txn);
        const deadline = Date.now() + 5000;
        for (;;) {
          const r = await reader.lookup(TABLE, [{ service: 'alias', key: 'root' }], 5000).catch(() => undefined);
          if (r) {
            assert.deepEqual(r.results, [{ s: 'found', value: 'alice' }]);
            break;
          }
          assert.ok(Date.now() < deadline, 'the table reached the replica region');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // No admin function outside the home region.
        await assert.rejects(testAdminClient(far).hello(), /no admin function/);
      } finally {
        await admin.close();
        await reader.close();
      }
    } finally {
      cli.child.kill('SIGTERM');
      await cli.result();
    }
  });
});
