// The replica hit path reads through a snapshot it holds across event-loop
// turns (proxy/replica/read-view.ts): while two whole transfers replace the
// served generation behind it (the second refilling the slot it answers
// from), every answer still comes from the one generation its pointer
// named, and the newest generation is served once the snapshot is renewed.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Backend } from '../lambda/local/backend.js';
import { buildConfig } from '../proxy/config.js';
import { RENEW_MS } from '../proxy/replica/read-view.js';
import { Replicas } from '../proxy/replica/replicas.js';
import { ReplicaStore, type Slot } from '../proxy/replica/store.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { startTestBackend, testReader } from './helpers/backend.js';

const KEYS = 200;
const values = (g: string): Array<readonly [string, string, boolean]> => Array.from({ length: KEYS }, (_, i) => [`k${i}`, `${g}-${i}`, false] as const);

describe('the replica hit path during switches made by another writer', () => {
  let backend: Backend;
  let reader: HttpUpstream;
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));

  before(async () => {
    backend = await startTestBackend({ t: values('g1').map(([k, v]) => [k, v] as [string, string]) }, { collectEveryMs: 0 });
    reader = testReader(backend.url);
  });
  after(async () => {
    await reader?.close();
    await backend?.close();
  });

  it('answers from the generation its pointer named until its snapshot is renewed, then from the newest', async () => {
    const config = buildConfig({ upstream: { url: backend.url }, replica: { dir, tables: ['t'] }, cache: { max_staleness_s: 3600 } });
    const replicas = new Replicas(config, reader, (tables) => reader.generations(tables, 5000).then((r) => r.tables), pino({ level: 'silent' }));
    const deadline = Date.now() + 20_000;
    while (replicas.answer('t', 'string', 'k1')?.kind !== 'found') {
      assert.ok(Date.now() < deadline, 'replica not served');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Another handle on the store, writing as a syncing process does.
    const writer = new ReplicaStore(dir);
    const rec = writer.record('t')!;
    const publish = (g: string, generation: number, slot: Slot): void => {
      writer.clearSlot('t', slot);
      writer.fill('t', slot, values(g));
      writer.publish('t', { ...rec, generation, slot }, Date.now());
    };
    /** The generations answered by each round of lookups (one event-loop turn). */
    const rounds: string[][] = [];
    const ask = (): void => {
      const seen = new Set<string>();
      for (let i = 0; i < KEYS; i += 7) {
        const a = replicas.answer('t', 'string', `k${i}`);
        seen.add(a?.kind === 'found' ? a.value.split('-')[0]! : String(a?.kind));
      }
      rounds.push([...seen]);
    };
    // Turns apart, as lookups arrive: the first pins the snapshot; then two whole transfers, the second into the slot being answered from.
    const started = Date.now();
    ask();
    await new Promise((r) => setImmediate(r));
    publish('g2', rec.generation + 1, rec.slot === 0 ? 1 : 0);
    await new Promise((r) => setImmediate(r));
    ask();
    publish('g3', rec.generation + 2, rec.slot);
    await new Promise((r) => setImmediate(r));
    ask();
    const within = Date.now() - started < RENEW_MS;
    await new Promise((r) => setTimeout(r, RENEW_MS + 5));
    ask();
    // Each round answered from one whole generation, never an older one after a newer.
    for (const r of rounds) assert.equal(r.length, 1, `one round answered from ${r.join(', ')}`);
    const order = rounds.map((r) => r[0]!);
    assert.deepEqual([...order].sort(), order, `generations in order: ${order.join(', ')}`);
    for (const g of order) assert.match(g, /^g[123]$/);
    // Within one snapshot (a loaded machine may take longer than its life), the generation its pointer named.
    if (within) assert.deepEqual(order.slice(0, 3), ['g1', 'g1', 'g1']);
    assert.equal(order[3], 'g3', 'the newest generation is served once the snapshot is renewed');
    await replicas.close();
    await writer.close();
  });
});
