// Coherence of table replacement as lookups see it: every answer comes from
// one whole generation while loads, commits and rollbacks run under heavy
// traffic; proxies move to the new generation within max_staleness plus one
// deadline, after a rollback to an older generation too, whatever order
// answers arrive in; and smtpd's `update` forces a check.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { Transactions } from '../lambda/store/transaction.js';
import type { AdminClient } from '../proxy/admin/client.js';
import { silentLogger } from '../proxy/log.js';
import type { ResolverObserver } from '../proxy/resolver/observer.js';
import { Resolver } from '../proxy/resolver/resolver.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { startTestBackend, testAdminClient, testReader } from './helpers/backend.js';
import { GatedUpstream, sleep, testConfig, testResolver } from './helpers/resolver.js';
import { waitUntil } from './helpers/wait.js';
import { SmtpdPeer, request } from './helpers/smtpd-peer.js';

describe('coherence of table replacement', () => {
  let backend: Backend;
  let admin: AdminClient;
  let reader: HttpUpstream;

  before(async () => {
    backend = await startTestBackend({}, { collectEveryMs: 0 });
    admin = testAdminClient(backend.url);
    reader = testReader(backend.url);
  });
  after(async () => {
    await Promise.all([admin.close(), reader.close()]);
    await backend.close();
  });

  it('loads, commits and rollbacks under heavy lookup traffic: every answer is one whole generation, the one it names', async (t) => {
    const T = 'traffic';
    const KEYS = 400;
    const keys = Array.from({ length: KEYS }, (_, i) => `user${i}@example.org`);
    const gen1 = await replaceTable(backend.store, T, keys.map((k) => [k, `g1-${k}`]), 'alias');
    assert.equal(gen1, 1);

    let stop = false;
    let answers = 0;
    const perGeneration = new Map<number, number>();
    const wrong: string[] = [];
    const traffic = async (): Promise<void> => {
      while (!stop) {
        const sample = Array.from({ length: 100 }, () => keys[Math.floor(Math.random() * KEYS)]!);
        let r;
        try {
          r = await reader.lookup(T, sample.map((key) => ({ service: 'alias', key })), 10_000);
        } catch (err) {
          wrong.push(`lookup failed: ${String(err)}`);
          continue;
        }
        answers++;
        perGeneration.set(r.generation, (perGeneration.get(r.generation) ?? 0) + 1);
        r.results.forEach((res, i) => {
          const want = `g${r.generation}-${sample[i]}`;
          if (res.s !== 'found' || res.value !== want) wrong.push(`generation ${r.generation}: ${sample[i]} → ${JSON.stringify(res)}`);
        });
      }
    };
    const loops = Array.from({ length: 4 }, traffic);

    /** One load through the admin function in batches; ends with `end`. */
    const load = async (end: 'commit' | 'rollback-after-apply'): Promise<number> => {
      const b = await admin.begin({ table: T, owner: 'coherence test' });
      for (let i = 0; i < KEYS; i += 100) {
        await admin.send(T, b.txn, keys.slice(i, i + 100).map((k) => ({ key: k, value: `g${b.shadow}-${k}` })));
        await sleep(20);
      }
      const v = await admin.validate(T, b.txn, KEYS);
      assert.ok(v.ok, JSON.stringify(v));
      await admin.apply(T, b.txn);
      await sleep(200);
      if (end === 'commit') await admin.commit(T, b.txn);
      else await admin.rollback(T, b.txn);
      await sleep(200);
      return b.shadow;
    };

    let gen2: number;
    let gen3: number;
    try {
      await sleep(200);
      gen2 = await load('commit');
      await admin.undo({ table: T }); // back to generation 1: an older number, a newer epoch
      await sleep(200);
      await admin.undo({ table: T }); // and forward to 2 again
      await sleep(200);
      gen3 = await load('rollback-after-apply');
    } finally {
      stop = true;
      await Promise.allSettled(loops);
    }

    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} answers not from the generation they name`);
    assert.ok(answers >= 50, `only ${answers} lookups ran`);
    t.diagnostic(`${answers} lookups of 100 keys: ${[...perGeneration].map(([g, n]) => `${n} from generation ${g}`).join(', ')}`);
    for (const g of [gen1, gen2, gen3]) assert.ok((perGeneration.get(g) ?? 0) > 0, `no answer from generation ${g}: ${JSON.stringify([...perGeneration])}`);
    const final = await reader.lookup(T, [{ service: 'alias', key: keys[0]! }], 5000);
    assert.deepEqual([final.generation, final.results], [gen2, [{ s: 'found', value: `g${gen2}-${keys[0]}` }]]);
  });

  it('a proxy answers from the new generation within max_staleness + one deadline of a commit, and of a rollback to an older one', async () => {
    const T = 'converge';
    const MAX_STALENESS = 1000;
    const DEADLINE = 1000;
    // Margin for a loaded machine; without the checks the old answer would stay cached for ttl_s (300 s).
    const BOUND = MAX_STALENESS + DEADLINE + 1500;
    await replaceTable(backend.store, T, [['k', 'v1']], 'alias');
    let hits = 0;
    const countHits: ResolverObserver = { answered: (_t, _s, result) => void (result === 'hit' && hits++), requestSent: () => {}, requestDone: () => {} };
    const { resolver } = testResolver(testConfig(backend.url, { cache: { max_staleness_s: MAX_STALENESS / 1000, ttl_s: 300 }, upstream: { deadline_ms: DEADLINE } }), countHits);
    const ask = async (): Promise<string> => {
      const a = resolver.lookupCached(T, 'alias', 'k') ?? (await resolver.lookup(T, 'alias', 'k'));
      return a.kind === 'found' ? a.value : a.kind;
    };
    const until = async (want: string): Promise<number> => {
      const t0 = Date.now();
      await waitUntil(async () => (await ask()) === want, { what: want });
      return Date.now() - t0;
    };
    try {
      assert.equal(await ask(), 'v1');
      assert.equal(resolver.lookupCached(T, 'alias', 'k')?.kind, 'found', 'cached');
      const hitsBefore = hits;

      await replaceTable(backend.store, T, [['k', 'v2']]);
      const afterCommit = await until('v2');
      assert.ok(afterCommit <= BOUND, `${afterCommit} ms after the commit`);

      await new Transactions(backend.store).undo(T); // generation 1 again
      const afterRollback = await until('v1');
      assert.ok(afterRollback <= BOUND, `${afterRollback} ms after the rollback`);
      assert.ok(hits > hitsBefore + 10, 'answers came from the cache meanwhile, not from the function every time');
    } finally {
      await resolver.close();
    }
  });

  it('answers arriving out of order cannot move a proxy back to an older generation', async () => {
    const T = 'reorder';
    await replaceTable(backend.store, T, [['k', 'v1']], 'alias');
    const config = testConfig(backend.url, { cache: { max_staleness_s: 60 } });
    const gated = new GatedUpstream(testReader(backend.url));
    const resolver = new Resolver(config, gated, silentLogger);
    try {
      // A is asked first but held back; B is asked second and answered at once, with generation 1.
      const release = gated.holdNext();
      const a = resolver.checkGeneration(T);
      assert.equal(await resolver.checkGeneration(T), 1);
      // The table changes; then A goes out and reads generation 2.
      const gen2 = await replaceTable(backend.store, T, [['k', 'v2']]);
      release();
      assert.equal(await a, gen2);
      assert.equal(resolver.generation(T), gen2, 'the answer with the higher epoch wins, though its request was older');
      // And a rollback to generation 1 (higher epoch, lower number) is taken.
      await new Transactions(backend.store).undo(T);
      assert.equal(await resolver.checkGeneration(T), 1);
      assert.equal(resolver.generation(T), 1);
    } finally {
      await resolver.close();
    }
  });

  it("smtpd's update forces a check: the new generation is answered at once, cached answers of the old one dropped", async () => {
    const T = 'updated';
    await replaceTable(backend.store, T, [['root', 'alice']], 'alias');
    const peer = SmtpdPeer.withConfig(backend.url, '[cache]\nmax_staleness_s = 300\n');
    try {
      await peer.handshake(T);
      peer.write(request(T, 'lookup', 'alias', '00000001', 'root'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000001|found|alice']);
      await replaceTable(backend.store, T, [['root', 'bob']]);
      peer.write(request(T, 'lookup', 'alias', '00000002', 'root'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000002|found|alice'], 'still cached: nothing has told the proxy yet');
      peer.write(request(T, 'update', undefined, '00000003'));
      assert.deepEqual(await peer.lines(1), ['update-result|00000003|ok']);
      peer.write(request(T, 'lookup', 'alias', '00000004', 'root'));
      assert.deepEqual(await peer.lines(1), ['lookup-result|00000004|found|bob']);
    } finally {
      peer.kill();
    }
  });

  it("smtpd's update fails when the function cannot say which generation is current", async () => {
    const peer = SmtpdPeer.withConfig(backend.url);
    try {
      await peer.handshake('no-such-table');
      peer.write(request('no-such-table', 'update', undefined, '00000005'));
      const [line] = await peer.lines(1);
      assert.match(line!, /^update-result\|00000005\|error\|.*404/);
    } finally {
      peer.kill();
    }
  });
});
