// The generation rule under faults: an answer is served only from the
// newest generation the proxy knows of; stale means old in time, never old
// in generation. Once a proxy has moved away from a generation (replaced,
// or applied and rolled back when its lease ran out), no answer of it comes
// back, not from the cache, not as a stale answer while the function is
// down. Through a real `cloudtable sockmap` process and the real local
// backend; then a property test over random sequences of loads, commits,
// rollbacks, lease expiries and function outages.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Backend } from '../lambda/local/backend.js';
import type { AdminClient } from '../proxy/admin/client.js';
import { silentLogger } from '../proxy/log.js';
import { createRuntime, type Runtime } from '../proxy/runtime.js';
import { netstring } from '../proxy/sockmap/netstring.js';
import { TEST_CREDENTIALS, TestClock, startTestBackend, testAdminClient } from './helpers/backend.js';
import { switchableUpstream, type SwitchableUpstream } from './helpers/fault-servers.js';
import { testConfig } from './helpers/resolver.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';
import { writeConfig } from './helpers/smtpd-peer.js';
import { waitUntil } from './helpers/wait.js';

const LEASE = 60_000;

/** Values name their generation: `g7-key`. */
const value = (generation: number, key: string): string => `g${generation}-${key}`;
const generationOf = (v: string): number => Number(/^g(\d+)-/.exec(v)?.[1] ?? NaN);

/** One load through the admin function, each value naming the shadow generation; ends committed or applied (lease left to run out). */
async function load(admin: AdminClient, table: string, keys: string[], end: 'commit' | 'apply'): Promise<number> {
  const b = await admin.begin({ table, owner: 'generations test', service: 'alias' });
  for (let i = 0; i < keys.length; i += 500) await admin.send(table, b.txn, keys.slice(i, i + 500).map((k) => ({ key: k, value: value(b.shadow, k) })));
  const v = await admin.validate(table, b.txn, keys.length);
  assert.ok(v.ok, JSON.stringify(v));
  await admin.apply(table, b.txn);
  if (end === 'commit') await admin.commit(table, b.txn);
  return b.shadow;
}

describe('an answer comes only from the newest generation the proxy knows of', () => {
  const clock = new TestClock();
  let backend: Backend;
  let admin: AdminClient;

  before(async () => {
    backend = await startTestBackend({}, { clock: clock.now, limits: { leaseMs: LEASE }, collectEveryMs: 0 });
    admin = testAdminClient(backend.url);
  });
  after(async () => {
    await admin.close();
    await backend.close();
  });

  it('cloudtable sockmap, backend stopped: no key answered from a replaced generation, nor from one rolled back by lease expiry', async () => {
    const T = 'replaced';
    const keys = Array.from({ length: 200 }, (_, i) => `user${i}@example.org`);
    // A backend of its own: this test stops it.
    const backend = await startTestBackend({}, { clock: clock.now, limits: { leaseMs: LEASE }, collectEveryMs: 0 });
    const admin = testAdminClient(backend.url);
    const config = writeConfig(`[upstream]\nurl = "${backend.url}"\ndeadline_ms = 3000\n[cache]\nmax_staleness_s = 1\n[breaker]\nfailures = 1000\n`);
    let server: RunningSockmap | undefined;
    let client: SockmapClient | undefined;
    const readAll = async (some = keys): Promise<string[]> => {
      for (const k of some) client!.write(netstring(`${T} ${k}`));
      return client!.next(some.length);
    };
    const answersWith = (key: string, want: string): Promise<true | undefined> => waitUntil(async () => ((await client!.request(T, key)) === `OK ${want}` ? true : undefined), { what: `${key} → ${want}` });
    try {
      const g1 = await load(admin, T, keys, 'commit');
      server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config]);
      client = await SockmapClient.connect(server.listeners[0]!);
      assert.deepEqual(await readAll(), keys.map((k) => `OK ${value(g1, k)}`));

      // Replaced: v2 committed; the proxy finds out (one key answers v2).
      const g2 = await load(admin, T, keys, 'commit');
      await answersWith(keys[0]!, value(g2, keys[0]!));
      // Applied, then rolled back by lease expiry: the proxy sees v3, reads half the keys from it, then sees v2 again.
      const g3 = await load(admin, T, keys, 'apply');
      await answersWith(keys[1]!, value(g3, keys[1]!));
      const second = keys.slice(100);
      assert.deepEqual(await readAll(second), second.map((k) => `OK ${value(g3, k)}`));
      clock.advance(LEASE + 1);
      await answersWith(keys[2]!, value(g2, keys[2]!));

      await backend.http.close();
      const replies = await readAll();
      const old = replies.filter((r) => r.startsWith('OK ') && generationOf(r.slice(3)) !== g2);
      assert.equal(old.length, 0, `${old.length} of ${keys.length} answered from an older generation, e.g. ${old.slice(0, 3).join(', ')}`);
      for (const r of replies) assert.match(r, new RegExp(`^(OK g${g2}-|TEMP |TIMEOUT )`));
      assert.ok(replies.filter((r) => !r.startsWith('OK ')).length >= 190, 'keys never read from v2 are a temporary failure');
      assert.match(server.stderr, /table generation changed/);
    } finally {
      client?.close();
      await server?.stop();
      await admin.close();
      await backend.close();
    }
  });

  it('property: after every step of loads, commits, rollbacks, lease expiries and outages, no answer is older than the newest generation seen', async () => {
    const KEYS = Array.from({ length: 12 }, (_, i) => `k${i}`);
    type Op = 'commit' | 'apply' | 'expire' | 'undo' | 'down' | 'hang' | 'up' | 'sync';
    const ops: Op[] = ['commit', 'apply', 'expire', 'undo', 'down', 'hang', 'up', 'sync', 'sync'];
    const upstream: SwitchableUpstream = await switchableUpstream({ kind: 'forward', to: backend.url });
    let run = 0;
    try {
      await fc.assert(
        // Each step, then a few keys read: keys not read for a while keep what was cached of older generations.
        fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...ops), fc.subarray(KEYS, { minLength: 1, maxLength: 4 })), { minLength: 3, maxLength: 10 }), async (steps) => {
          const T = `prop${run++}`;
          await upstream.set({ kind: 'forward', to: backend.url });
          let applied = false;
          const expire = (): void => {
            if (applied) clock.advance(LEASE + 1);
            applied = false;
          };
          await load(admin, T, KEYS, 'commit');
          const config = testConfig(upstream.url, { upstream: { deadline_ms: 300 }, cache: { max_staleness_s: 0.2 }, breaker: { failures: 3, probe_interval_ms: 50 } });
          const runtime: Runtime = createRuntime(config, silentLogger, () => Promise.resolve(TEST_CREDENTIALS));
          let up = true;
          try {
            for (const k of KEYS) await runtime.tables.lookup(T, 'alias', k);
            for (const [step, read] of steps) {
              if (step === 'commit' || step === 'apply') {
                expire();
                await load(admin, T, KEYS, step);
                applied = step === 'apply';
              } else if (step === 'expire') expire();
              else if (step === 'undo') {
                expire();
                await admin.undo({ table: T }).catch(() => undefined); // nothing kept to go back to: a step that changes nothing
              } else if (step === 'down' || step === 'hang') {
                await upstream.set({ kind: step === 'down' ? 'refuse' : 'silent' });
                up = false;
              } else if (step === 'up') {
                await upstream.set({ kind: 'forward', to: backend.url });
                up = true;
              } else if (step === 'sync' && up) {
                const active = (await admin.list({ table: T })).generation;
                await waitUntil(() => runtime.resolver.generation(T) === active, { what: `the proxy to see generation ${active}` });
              }
              await check(runtime, T, read, step);
            }
          } finally {
            await runtime.close();
          }
        }),
        { numRuns: 10, endOnFailure: true, includeErrorInReport: true },
      );
    } finally {
      await upstream.close();
    }
  });
});

/** Some keys, and the health map: each answer is a failure or of the newest generation the proxy knew of while answering it. */
async function check(runtime: Runtime, table: string, keys: string[], step: string): Promise<void> {
  for (const k of keys) {
    const before = runtime.resolver.generation(table);
    const a = await runtime.tables.lookup(table, 'alias', k);
    const after = runtime.resolver.generation(table);
    assert.notEqual(a.kind, 'not-found', `after ${step}: ${k} answered not found`);
    if (a.kind === 'found') {
      const g = generationOf(a.value);
      assert.ok(g === before || g === after, `after ${step}: ${k} answered ${a.value} (${a.source}) while the newest generation known was ${before} → ${after}`);
    }
  }
  const before = runtime.resolver.generation(table);
  const h = await runtime.health.check(table);
  const after = runtime.resolver.generation(table);
  if (h.kind === 'found') {
    const g = Number(/generation (\d+)/.exec(h.value)?.[1]);
    assert.ok(g === before || g === after, `after ${step}: the health map named generation ${g}, the newest known being ${before} → ${after}`);
  }
}
