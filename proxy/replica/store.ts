// The host's replica store: one LMDB environment under `replica.dir`, shared
// by every cloudtable process of the host (each smtpd table process, the
// socketmap server). LMDB is memory-mapped (the pages are shared, not copied
// into each process), has one writer and many readers at once (MVCC), and
// reads are synchronous: what the hit path needs.
//
// Layout (named databases):
//   active           <table> → "<slot> <generation> <epoch>"  what readers answer from
//   meta             t:<table> → ReplicaRecord   c:<table> → confirmed at (ms)
//                    l:<table> → SyncLease       v:<table> → verified at (ms)
//   e:<table>:<slot> key → value    every entry of the generation in that slot
//   p:<table>:<slot> key → value    its pattern entries (isPatternKey), for local matching
//
// Each table has two slots. A full transfer fills the slot not in use, and
// the switch is one write transaction that points `active` at it; an
// incremental transfer changes the slot in use in one write transaction.
// Either way every reader, in every process, reads the old generation or
// the new one whole: LMDB readers see the snapshot their read transaction
// began with. The hit path reads through a snapshot it holds across
// event-loop turns (`snapshot()`, passed to each read), so the pointer it
// read once and every entry it reads afterwards come from that one
// snapshot; other reads use lmdb-js's own read transaction, which lasts one
// event-loop turn.

import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { open, type Database, type RootDatabase, type Transaction } from 'lmdb';
import { storePath } from './settings.js';

export type Slot = 0 | 1;

/** What the replica of a table holds, as its last sync left it. */
export interface ReplicaRecord {
  generation: number;
  epoch: number | undefined;
  count: number;
  digest: string;
  slot: Slot;
  /** The last sync: full or incremental, entries transferred, how long, bytes received. */
  lastSync: { kind: 'full' | 'incremental'; entries: number; ms: number; bytes: number; at: number };
}

export interface SyncLease {
  pid: number;
  until: number;
}

/** Where a table's replica points readers now. */
export interface ActivePointer {
  slot: Slot;
  generation: number;
  epoch: number | undefined;
}

/** Reads from a snapshot held by the caller (see `snapshot()`). */
export interface ReadAt {
  transaction: Transaction;
}

export interface TableDbs {
  entries: [Database<string, string>, Database<string, string>];
  patterns: [Database<string, string>, Database<string, string>];
}

/** Address space reserved for the map; the file grows only as pages are used. */
const MAP_BYTES = 2 ** 34;

export class ReplicaStore {
  private readonly env: RootDatabase;
  private readonly active: Database<string, string>;
  private readonly meta: Database<unknown, string>;
  private readonly tables = new Map<string, TableDbs>();
  /** Tables whose databases this process opened: a read snapshot begun before an opening cannot read that table. */
  opened = 0;

  constructor(readonly dir: string) {
    // Group-shared, never world-readable: smtpd's user and the socketmap user
    // share a group, and credentials tables live here too.
    mkdirSync(dir, { recursive: true, mode: 0o2770 });
    const path = storePath(dir);
    const umask = process.umask(0o007);
    try {
      this.env = open({ path, maxDbs: 1024, noSubdir: true, mapSize: MAP_BYTES });
    } finally {
      process.umask(umask);
    }
    for (const f of [path, `${path}-lock`]) tighten(f);
    this.active = this.env.openDB<string, string>({ name: 'active', encoding: 'string' });
    this.meta = this.env.openDB<unknown, string>({ name: 'meta' });
  }

  /**
   * A read snapshot of the newest committed state, held until its `done()`
   * (which must be called: a held snapshot keeps pages from being reused).
   */
  snapshot(): Transaction {
    return this.env.useReadTransaction();
  }

  /** The pointer readers follow, from `at` or this event-loop turn's snapshot. */
  pointer(table: string, at?: ReadAt): ActivePointer | undefined {
    const s = this.active.get(table, at);
    if (s === undefined) return undefined;
    const [slot, generation, epoch] = s.split(' ');
    return { slot: slot === '1' ? 1 : 0, generation: Number(generation), epoch: epoch === '-' ? undefined : Number(epoch) };
  }

  record(table: string, at?: ReadAt): ReplicaRecord | undefined {
    return this.meta.get(`t:${table}`, at) as ReplicaRecord | undefined;
  }

  /** When a process of the host last verified the served generation whole (ms). */
  verifiedAt(table: string): number | undefined {
    return this.meta.get(`v:${table}`) as number | undefined;
  }

  async verified(table: string, at: number): Promise<void> {
    await this.meta.put(`v:${table}`, at);
  }

  /** When the function last confirmed the replica's generation (ms), shared by every process. */
  confirmedAt(table: string): number | undefined {
    return this.meta.get(`c:${table}`) as number | undefined;
  }

  async confirm(table: string, at: number): Promise<void> {
    await this.meta.put(`c:${table}`, at);
  }

  /** Tables that have a replica on this host. */
  replicatedTables(): string[] {
    return [...this.active.getKeys()] as string[];
  }

  isOpen(table: string): boolean {
    return this.tables.has(table);
  }

  dbs(table: string): TableDbs {
    let d = this.tables.get(table);
    if (!d) {
      const db = (kind: string, slot: Slot): Database<string, string> => this.env.openDB<string, string>({ name: `${kind}:${table}:${slot}`, encoding: 'string' });
      d = { entries: [db('e', 0), db('e', 1)], patterns: [db('p', 0), db('p', 1)] };
      this.tables.set(table, d);
      this.opened++;
    }
    return d;
  }

  /** One key of the generation in `slot`. */
  get(table: string, slot: Slot, key: string): string | undefined {
    return this.dbs(table).entries[slot].get(key);
  }

  /**
   * Takes the right to sync `table` for `ms`: free, ours, run out, or held
   * by a process of this host that no longer exists (a kill -9 leaves its
   * lease behind; its pid tells it is gone).
   */
  takeLease(table: string, ms: number, now = Date.now()): boolean {
    return this.env.transactionSync(() => {
      const l = this.meta.get(`l:${table}`) as SyncLease | undefined;
      if (l && l.pid !== process.pid && l.until > now && alive(l.pid)) return false;
      this.meta.put(`l:${table}`, { pid: process.pid, until: now + ms } satisfies SyncLease);
      return true;
    });
  }

  lease(table: string): SyncLease | undefined {
    return this.meta.get(`l:${table}`) as SyncLease | undefined;
  }

  releaseLease(table: string): void {
    this.env.transactionSync(() => {
      const l = this.meta.get(`l:${table}`) as SyncLease | undefined;
      if (l?.pid === process.pid) this.meta.remove(`l:${table}`);
    });
  }

  /** Empties a slot before a full transfer fills it. */
  clearSlot(table: string, slot: Slot): void {
    const d = this.dbs(table);
    this.env.transactionSync(() => {
      d.entries[slot].clearSync();
      d.patterns[slot].clearSync();
    });
  }

  /** Writes one page of a full transfer into a slot no reader uses. */
  fill(table: string, slot: Slot, entries: ReadonlyArray<readonly [string, string, boolean]>): void {
    const d = this.dbs(table);
    this.env.transactionSync(() => {
      for (const [k, v, pattern] of entries) {
        void d.entries[slot].put(k, v);
        if (pattern) void d.patterns[slot].put(k, v);
      }
    });
  }

  /** Entries stored in a slot, as LMDB counts them. */
  size(table: string, slot: Slot): number {
    return (this.dbs(table).entries[slot].getStats() as { entryCount: number }).entryCount;
  }

  /**
   * The switch: one write transaction points readers at the slot, records
   * the generation, and confirms it. `inside` runs first in the same
   * transaction (an incremental transfer's changes) and may throw to abort
   * the whole of it.
   */
  publish(table: string, record: ReplicaRecord, confirmedAt: number, inside?: () => void): void {
    this.env.transactionSync(() => {
      inside?.();
      this.active.put(table, `${record.slot} ${record.generation} ${record.epoch ?? '-'}`);
      this.meta.put(`t:${table}`, record);
      this.meta.put(`c:${table}`, confirmedAt);
      // Checked whole before it was published.
      this.meta.put(`v:${table}`, Date.now());
    });
  }

  /** Stops serving a table's replica (a failed verification, a table grown too large); the data goes with it, its pages free for reuse. */
  drop(table: string): void {
    const d = this.dbs(table);
    this.env.transactionSync(() => {
      this.active.remove(table);
      this.meta.remove(`t:${table}`);
      this.meta.remove(`v:${table}`);
      for (const slot of [0, 1] as const) {
        d.entries[slot].clearSync();
        d.patterns[slot].clearSync();
      }
    });
  }

  /** Every entry of a slot, in key order. */
  *entries(table: string, slot: Slot, at?: ReadAt): Iterable<[string, string]> {
    for (const { key, value } of this.dbs(table).entries[slot].getRange({ ...at })) yield [key, value];
  }

  /** The pattern entries of a slot, in key order. */
  *patterns(table: string, slot: Slot, at?: ReadAt): Iterable<[string, string]> {
    for (const { key, value } of this.dbs(table).patterns[slot].getRange({ ...at })) yield [key, value];
  }

  /** Bytes of the store file on disk (every table). */
  bytesOnDisk(): number {
    try {
      return statSync(storePath(this.dir)).blocks * 512;
    } catch {
      return 0;
    }
  }

  /** Pages in use by one table's slot, in bytes: its share of the file. */
  tableBytes(table: string, slot: Slot): number {
    const d = this.dbs(table);
    let pages = 0;
    for (const db of [d.entries[slot], d.patterns[slot]]) {
      const s = db.getStats() as { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; pageSize: number };
      pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    }
    return pages * 4096;
  }

  /** Waits for writes made with put (confirmations) to be committed. */
  flushed(): Promise<void> {
    return this.env.flushed as unknown as Promise<void>;
  }

  close(): Promise<void> {
    return this.env.close();
  }
}

/** Files created by someone else keep their mode; ours lose any bit for others. */
function tighten(path: string): void {
  try {
    const st = statSync(path);
    if (st.uid === process.getuid?.() && (st.mode & 0o007) !== 0) chmodSync(path, st.mode & 0o770);
  } catch {
    // the lock file may not exist on every platform
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
