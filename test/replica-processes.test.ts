// Several cloudtable processes on one replica store (three `cloudtable
// smtpd` and a `cloudtable sockmap`), reading without pause while new
// generations are committed and transferred, and the process that syncs is
// killed with SIGKILL at a random point of its transfer: every answer is
// one complete generation's (values encode their generation), no process
// goes back to an older one, the others keep serving the previous
// generation, the dead process's lease holds nothing, and the next sync
// completes.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../lambda/local/backend.js';
import { replaceTable } from '../lambda/store/replace.js';
import { ReplicaStore } from '../proxy/replica/store.js';
import { startTestBackend } from './helpers/backend.js';
import { SmtpdPeer, writeConfig } from './helpers/smtpd-peer.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './helpers/sockmap.js';

const N = 3000;
const generation = (g: number): Array<[string, string]> => Array.from({ length: N }, (_, i) => [`k${i}`, `g${g}v${i}`]);

interface Reader {
  name: string;
  pid: number;
  ask(key: string): Promise<string>;
  /** Generations answered, in order. */
  seen: number[];
  alive: boolean;
}

describe('several processes on one replica store while one syncs and is killed', () => {
  let backend: Backend;
  let store: ReplicaStore;
  let sockmap: RunningSockmap;
  const peers: SmtpdPeer[] = [];
  const readers: Reader[] = [];
  const problems: string[] = [];
  let stop = false;
  /** Every process answers from the replica. */
  let warm = false;
  const loops: Array<Promise<void>> = [];

  before(async () => {
    backend = await startTestBackend({ multi: generation(1) }, { collectEveryMs: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'cloudtable-replica-'));
    const config = writeConfig(
      `[upstream]\nurl = "${backend.url}"\ndeadline_ms = 3000\n[cache]\nmax_staleness_s = 0.5\n[replica]\ndir = "${dir}"\ntables = "auto"\n[log]\nlevel = "info"\n`,
    );
    store = new ReplicaStore(dir);
    for (let i = 0; i < 3; i++) {
      const p = new SmtpdPeer([config]);
      peers.push(p);
      await p.handshake('multi');
      readers.push({ name: `smtpd${i}`, pid: p.child.pid!, ask: async (k) => p.ask('multi', 'lookup', 'alias', k), seen: [], alive: true });
    }
    sockmap = await startSockmap(['--config', config, '--listen', 'inet:127.0.0.1:0']);
    const client = await SockmapClient.connect(sockmap.listeners[0]!);
    readers.push({
      name: 'sockmap',
      pid: sockmap.child.pid!,
      ask: async (k) => {
        const r = await client.request('multi', k);
        return r.startsWith('OK ') ? `found|${r.slice(3)}` : r;
      },
      seen: [],
      alive: true,
    });
  });

  after(async () => {
    stop = true;
    // Killed first: a loop may be waiting for a process that will never answer.
    for (const p of peers) p.child.kill('SIGKILL');
    sockmap?.child.kill('SIGKILL');
    await Promise.allSettled(loops);
    await store?.close();
    await backend?.close();
  });

  async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${problems.join('; ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  function read(r: Reader): Promise<void> {
    return (async () => {
      while (!stop && r.alive) {
        const i = Math.floor(Math.random() * N);
        let answer: string;
        try {
          answer = await r.ask(`k${i}`);
        } catch (err) {
          if (r.alive && !stop) problems.push(`${r.name}: ${(err as Error).message}`);
          return;
        }
        const m = /^found\|g(\d+)v(\d+)$/.exec(answer);
        if (!m || Number(m[2]) !== i) {
          // Before the first replica, lookups go to the function (the cache path), which a busy machine may make miss the deadline.
          if (warm) problems.push(`${r.name}: k${i} answered ${answer}`);
          continue;
        }
        const g = Number(m[1]);
        const last = r.seen.at(-1) ?? 0;
        if (g < last) problems.push(`${r.name}: generation ${g} after ${last}`);
        if (g !== last) r.seen.push(g);
      }
    })();
  }

  it('every process reads whole generations, never an older one after a newer, through two killed syncs', async (t) => {
    for (const r of readers) loops.push(read(r));
    await until('generation 1 replicated and answered by all', () => store.pointer('multi')?.generation === 1 && readers.every((r) => r.seen.includes(1)));
    await new Promise((r) => setTimeout(r, 200)); // the answers in flight may still come from the function
    warm = true;
    for (const g of [2, 3]) {
      await replaceTable(backend.store, 'multi', generation(g));
      // The syncing process: the one that holds the lease once a check sees generation g.
      await until(`a sync of generation ${g}`, () => {
        const l = store.lease('multi');
        return l !== undefined && l.until > Date.now() && readers.some((r) => r.alive && r.pid === l.pid);
      });
      const victim = readers.find((r) => r.pid === store.lease('multi')!.pid)!;
      const delay = Math.floor(Math.random() * 300);
      await new Promise((r) => setTimeout(r, delay));
      victim.alive = false;
      process.kill(victim.pid, 'SIGKILL');
      t.diagnostic(`generation ${g}: killed ${victim.name} ${delay} ms into its sync`);
      await until(`generation ${g} replicated by a surviving process`, () => store.pointer('multi')?.generation === g);
      await until(`generation ${g} answered by every surviving process`, () => readers.filter((r) => r.alive).every((r) => r.seen.at(-1) === g));
    }
    stop = true;
    await Promise.allSettled(loops);
    assert.deepEqual(problems, []);
    const l = store.lease('multi');
    assert.ok(l === undefined || readers.some((r) => r.alive && r.pid === l.pid), 'no lease left to a dead process');
    for (const r of readers.filter((x) => x.alive)) assert.deepEqual(r.seen, [1, 2, 3], `${r.name} saw ${r.seen}`);
  });
});
