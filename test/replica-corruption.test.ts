// A replica corrupted on disk (bytes changed in the file, an entry missing,
// a wrong digest), against the real backend and a real LMDB store: detected
// when a process opens it, never served, logged, and transferred again.

import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Backend } from '../lambda/local/backend.js';
import { buildConfig } from '../proxy/config.js';
import { Replicas } from '../proxy/replica/replicas.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { startTestBackend, testReader } from './helpers/backend.js';

describe('a corrupted replica', () => {
  let backend: Backend;
  let reader: HttpUpstream;
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < 2000; i++) entries.push([`k${i}`, `value-number-${String(i).padStart(6, '0')}`]);

  before(async () => {
    backend = await startTestBackend({ t: entries }, { collectEveryMs: 0 });
    reader = testReader(backend.url);
  });
  after(async () => {
    await reader?.close();
    await backend?.close();
  });

  /** A process's replicas (as `cloudtable smtpd` opens them), logging into `lines`. */
  function open(lines: Array<{ msg: string }>): Replicas {
    const config = buildConfig({ upstream: { url: backend.url }, replica: { dir, tables: ['t'] }, cache: { max_staleness_s: 3600 } });
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
    return new Replicas(config, reader, (tables) => reader.generations(tables, 5000).then((r) => r.tables), log);
  }

  async function synced(r: Replicas): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (r.answer('t', 'string', 'k1')?.kind !== 'found') {
      if (Date.now() > deadline) throw new Error('replica not served again');
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  const corruptions: Array<[string, (store: ReplicaStore) => void]> = [
    [
      'bytes changed in the file',
      (store) => {
        const path = join(store.dir, 'replicas.mdb');
        const at = readFileSync(path).indexOf('value-number-001234');
        assert.ok(at > 0);
        const fd = openSync(path, 'r+');
        writeSync(fd, 'X', at + 13);
        closeSync(fd);
      },
    ],
    ['an entry missing', (store) => void store.dbs('t').entries[store.pointer('t')!.slot].removeSync('k1999')],
    ['a wrong digest', (store) => store.publish('t', { ...store.record('t')!, digest: 'f'.repeat(64) }, Date.now())],
  ];

  for (const [what, corrupt] of corruptions) {
    it(`is never served with ${what}: detected when opened, logged, transferred again`, async () => {
      const first: Array<{ msg: string }> = [];
      let r = open(first);
      await synced(r);
      corrupt(r.store);
      await r.close();

      const lines: Array<{ msg: string }> = [];
      r = open(lines);
      try {
        // Opening verifies: the first lookup finds the replica bad and does not answer from it.
        const a = r.answer('t', 'string', 'k1234');
        assert.equal(a, undefined, 'not answered from the replica (the cache path would ask the function)');
        assert.ok(lines.some((l) => l.msg.startsWith('replica failed verification')), JSON.stringify(lines));
        await synced(r);
        assert.deepEqual(r.answer('t', 'string', 'k1234'), { kind: 'found', value: 'value-number-001234', source: 'replica' });
        assert.deepEqual(r.answer('t', 'string', 'k1999'), { kind: 'found', value: 'value-number-001999', source: 'replica' });
        assert.equal(r.store.record('t')?.lastSync.kind, 'full');
      } finally {
        await r.close();
      }
    });
  }
});
