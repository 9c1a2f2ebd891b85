// The replicas of one process: which tables are answered from the host's
// replica store, the synchronous answers themselves, and the upkeep — the
// generation checked every half of cache.max_staleness (the tables due
// together in one request; skipped when another process of the host
// confirmed it lately), a new generation transferred at
// once (one process at a time, under the store's lease), verification at
// first use, and expiry: a replica the function has not confirmed for
// replica.expire_s answers error (smtpd `error`, socketmap TEMP) until the
// function confirms it again; it is never served stale forever, and it does
// not fall back on answers the cache may still hold.

import type { Service, TableGenerationResult } from '../../common/contract/lookup.js';
import type { Config, ReplicaTables } from '../config.js';
import type { Logger } from '../log.js';
import type { Answer } from '../resolver/answer.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { compareBytes, foldKey } from '../../common/smtpd/index.js';
import { EntrySet, type Entry } from '../tables/entry-sets.js';
import { CallError } from '../http/call-error.js';
import type { Listing } from '../upstream/client.js';
import { HotEntries } from './hot-entries.js';
import { ReadView, type ReplicaAnswer, type Served } from './read-view.js';
import { ReplicaStore, type ReadAt, type ReplicaRecord } from './store.js';
import { fullSync, incrementalSync, verifyServed, verifyStored, LeaseLost, type SyncResult, type TransferSource } from './sync.js';
import { replicaSettings, replicationWanted } from './settings.js';

export { DEFAULT_REPLICA_DIR, replicaSettings } from './settings.js';

const NOT_FOUND: ReplicaAnswer = Object.freeze({ kind: 'not-found', source: 'replica' });

/** Incremental transfers in a row toward the active generation before a whole one (the function keeps two steps of change logs). */
const MAX_INCREMENTAL_STEPS = 3;
/** How long a syncing process holds a table without renewing. */
const LEASE_MS = 30_000;
/** Share of expire_s after which an unconfirmed replica is logged as nearing expiry. */
const NEAR_EXPIRY = 0.75;

/**
 * What asks the function for the generations of tables, in one request when
 * there are several (the resolver, so its answer counts for the breaker too):
 * one answer per table, in order; throws when the request failed as a whole.
 */
export type GenerationCheck = (tables: string[]) => Promise<TableGenerationResult[]>;

interface TableState {
  table: string;
  /** Configured or judged (auto) to be replicated in this process. */
  wanted: boolean;
  /** Checked count and digest against the stored entries in this process. */
  verified: boolean;
  /** When the function last confirmed the replica's generation, as the store says. */
  confirmedAt: number;
  checking: boolean;
  sets: Map<Listing, { id: string; set: EntrySet | undefined }>;
  /** Answers read lately, for the served state they were read from. */
  hot: HotEntries<ReplicaAnswer>;
  nearExpiryLogged: boolean;
  expiredLogged: boolean;
}

export interface ReplicaStatus {
  table: string;
  mode: 'replica' | 'cache';
  generation?: number;
  epoch?: number;
  entries?: number;
  /** Seconds since the function last confirmed the generation. */
  confirmedAgeS?: number;
  expired?: boolean;
  bytesOnDisk?: number;
  verified: boolean;
  lastSync?: SyncResult | { kind: string; entries: number; ms: number; bytes: number; at: number };
  syncing?: boolean;
}

export class Replicas {
  readonly store: ReplicaStore;
  private readonly view: ReadView;
  private readonly states = new Map<string, TableState>();
  /** Tables to check on this turn's microtask (checkSoon). */
  private readonly soon: TableState[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly tables: ReplicaTables;

  constructor(
    private readonly config: Config,
    private readonly source: TransferSource,
    private readonly check: GenerationCheck,
    private readonly log: Logger,
    private readonly observer?: ProxyMetrics,
    /** Largest pattern or entry set held in memory per table generation. */
    private readonly maxSetEntries = 100_000,
  ) {
    const settings = replicaSettings(config);
    this.tables = settings.tables;
    this.store = new ReplicaStore(settings.dir);
    this.view = new ReadView(this.store);
    const listed = Array.isArray(settings.tables) ? settings.tables : [];
    const overrides = Object.entries(config.tables).filter(([, t]) => t.replica === true).map(([n]) => n);
    for (const table of new Set([...this.store.replicatedTables(), ...listed, ...overrides])) this.state(table);
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(1000, Math.floor(config.cache.maxStalenessMs / 4))));
    this.timer.unref();
    this.tick();
  }

  /**
   * The hit path: the answer from the replica, synchronously, or undefined
   * when the table is not served from one here (not replicated, not yet
   * verified, expired). `key` is folded, as for the function.
   */
  answer(table: string, service: Service, key: string): Answer | undefined {
    const s = this.served(table);
    if (s.kind !== 'replica') {
      if (s.kind === 'none') return undefined;
      this.observer?.answered(table, service, 'error');
      return { kind: 'error', reason: 'the replica of this table expired: the function has not confirmed it within replica.expire_s', timeout: false };
    }
    let a = s.hot.get(key);
    if (a === undefined) {
      const value = s.entries.get(key, s.at);
      a = value === undefined ? NOT_FOUND : { kind: 'found', value, source: 'replica' };
      s.hot.put(key, a, value?.length ?? 0);
    }
    this.observer?.answered(table, service, a.kind === 'found' ? 'hit' : 'negative');
    return a;
  }

  /** The pattern set or the whole listing of the served generation, built once per generation from the store. */
  set(table: string, what: Listing): EntrySet | undefined {
    const p = this.served(table);
    // An expired replica has no set: matching then asks for its exact keys, which answer error.
    if (p.kind !== 'replica') return undefined;
    const st = this.states.get(table)!;
    const id = `${p.slot} ${p.generation}`;
    const held = st.sets.get(what);
    if (held?.id === id) return held.set;
    const byKey = new Map<string, string>();
    let set: EntrySet | undefined;
    // From the snapshot the exact keys are read from: a lookup that uses both never mixes generations.
    const source = what === 'patterns' ? this.store.patterns(table, p.slot, p.at) : this.store.entries(table, p.slot, p.at);
    for (const [k, v] of source) {
      byKey.set(foldKey(k), v);
      if (byKey.size > this.maxSetEntries) break;
    }
    if (byKey.size <= this.maxSetEntries) {
      const entries: Entry[] = [...byKey].map(([key, value]) => ({ key, value })).sort((a, b) => compareBytes(a.key, b.key));
      set = new EntrySet(p.generation, entries, Date.now());
    } else {
      // Matching would need a set from the function, of its own generation: the whole table goes through the cache then, so no answer mixes two.
      st.wanted = false;
      this.view.served.delete(table);
      this.log.warn({ table, what, max: this.maxSetEntries }, `table has too many ${what} to match locally: served through the cache`);
    }
    st.sets.set(what, { id, set });
    return set;
  }

  /** A table asked before this process opened the store (deferred.ts): checked, and transferred, as at a first lookup. */
  asked(table: string): void {
    this.state(table);
  }

  /** smtpd `update`: the replica verified again, and the generation checked (and transferred) now. */
  async update(table: string): Promise<void> {
    const st = this.states.get(table);
    if (!st) return;
    st.verified = false;
    this.view.release();
    this.verify(st);
    await this.refresh([st]);
  }

  status(): ReplicaStatus[] {
    const now = Date.now();
    return [...this.states.values()].map((st) => {
      const rec = st.wanted ? this.store.record(st.table) : undefined;
      const serving = this.serve(st.table, now).kind === 'replica';
      if (!rec) return { table: st.table, mode: 'cache', verified: false, syncing: st.checking };
      return {
        table: st.table,
        mode: serving ? 'replica' : 'cache',
        generation: rec.generation,
        ...(rec.epoch !== undefined && { epoch: rec.epoch }),
        entries: rec.count,
        confirmedAgeS: Math.max(0, (now - st.confirmedAt) / 1000),
        expired: now - st.confirmedAt > this.config.replica.expireMs,
        bytesOnDisk: this.store.tableBytes(st.table, rec.slot),
        verified: st.verified,
        lastSync: rec.lastSync,
        syncing: st.checking,
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.view.release();
    await this.store.close();
  }

  /** Whether `table` is answered from its replica here now (served, or expired and answering errors): its upkeep confirms it. */
  serving(table: string): boolean {
    return this.states.get(table)?.wanted === true && this.served(table).kind !== 'none';
  }

  /** What `table` serves now: from the view while its snapshot serves, else looked up. */
  private served(table: string): Served {
    const now = Date.now();
    const s = this.view.served.get(table);
    return s === undefined || now >= s.until ? this.serve(table, now) : s;
  }

  /**
   * What `table` serves in the view's snapshot, looked up once per snapshot
   * (the slow path of `answer`): its replica, expired, or nothing here (not
   * replicated, not yet transferred or verified).
   */
  private serve(table: string, now: number): Served {
    const { at, until } = this.view.current(now);
    const s = this.pointer(table, now, at, until);
    this.view.served.set(table, s);
    return s;
  }

  private pointer(table: string, now: number, at: ReadAt, until: number): Served {
    const st = this.states.get(table) ?? this.state(table);
    if (!st.wanted) return { kind: 'none', until };
    const p = this.store.pointer(table, at);
    if (p === undefined) return { kind: 'none', until };
    // A snapshot cannot read databases opened after it began: opened now, then looked up in a new one.
    if (!this.store.isOpen(table)) {
      this.store.dbs(table);
      return this.serve(table, now);
    }
    if (!st.verified && !this.verify(st)) return { kind: 'none', until };
    const expire = this.config.replica.expireMs;
    if (now - st.confirmedAt > expire) {
      // Another process may have confirmed it (or transferred it) since this one last looked.
      st.confirmedAt = Math.max(st.confirmedAt, this.store.confirmedAt(table) ?? 0);
      if (now - st.confirmedAt > expire) return { kind: 'expired', until };
    }
    const entries = this.store.dbs(table).entries[p.slot];
    // The sync's time too: a replica dropped and transferred again may come back in the same slot with the same generation.
    const hot = st.hot.of(`${p.slot} ${p.generation} ${p.epoch ?? '-'} ${this.store.record(table, at)?.lastSync.at ?? '-'}`);
    return { kind: 'replica', slot: p.slot, generation: p.generation, entries, hot, at, until: Math.min(until, st.confirmedAt + expire + 1) };
  }

  private state(table: string): TableState {
    let st = this.states.get(table);
    if (st) return st;
    const wanted = replicationWanted(this.config, this.tables, table);
    st = { table, wanted, verified: false, confirmedAt: this.store.confirmedAt(table) ?? 0, checking: false, sets: new Map(), hot: new HotEntries<ReplicaAnswer>(this.config.replica.hotEntries), nearExpiryLogged: false, expiredLogged: false };
    this.states.set(table, st);
    // A table first seen in a lookup is checked (and transferred) at once.
    if (wanted) this.checkSoon(st);
    return st;
  }

  /** Checks `st` on this turn's microtask, with every other table asked in the same turn: one request for all of them. */
  private checkSoon(st: TableState): void {
    if (this.closed || this.soon.includes(st)) return;
    if (this.soon.push(st) === 1) queueMicrotask(() => void this.refresh(this.soon.splice(0)));
  }

  /**
   * Recomputes the stored generation's count and digest; a replica that
   * does not match is never served: it is dropped (for every process) and
   * transferred again.
   */
  private verify(st: TableState): boolean {
    const rec = this.store.record(st.table);
    if (!rec) return false;
    const started = performance.now();
    const v = verifyStored(this.store, st.table, rec);
    if (v.ok) {
      st.verified = true;
      this.log.info({ table: st.table, generation: rec.generation, entries: rec.count, ms: Math.round(performance.now() - started) }, 'replica verified');
      return true;
    }
    this.rejected(st, rec, v.reason);
    return false;
  }

  /** A replica that failed verification: dropped for every process (unless already replaced) and transferred again. */
  private rejected(st: TableState, rec: ReplicaRecord, reason: string): void {
    this.log.error({ table: st.table, generation: rec.generation, reason }, 'replica failed verification: not served, transferring it again');
    const now = this.store.record(st.table);
    if (now?.digest === rec.digest && now.generation === rec.generation) this.store.drop(st.table);
    this.view.release();
    st.sets.clear();
    this.checkSoon(st);
  }

  /**
   * The periodic check of a served replica (replica.verify_s): every entry
   * digested again, in turns of the event loop, by one process of the host
   * (under the sync lease), so that bytes changed on disk after the switch
   * stop being served.
   */
  private async reverify(st: TableState): Promise<void> {
    if (st.checking || this.closed || !this.store.takeLease(st.table, LEASE_MS)) return;
    st.checking = true;
    try {
      const started = performance.now();
      const v = await verifyServed(this.store, st.table);
      if (v === undefined) return;
      if (!v.result.ok) return this.rejected(st, v.record, v.result.reason);
      await this.store.verified(st.table, Date.now());
      this.log.info({ table: st.table, generation: v.record.generation, entries: v.record.count, ms: Math.round(performance.now() - started) }, 'replica verified again');
    } finally {
      this.store.releaseLease(st.table);
      st.checking = false;
    }
  }

  private tick(): void {
    const now = Date.now();
    this.view.releaseIfIdle(now);
    const half = this.config.cache.maxStalenessMs / 2;
    const due: TableState[] = [];
    for (const st of this.states.values()) {
      if (!st.wanted) continue;
      st.confirmedAt = Math.max(st.confirmedAt, this.store.confirmedAt(st.table) ?? 0);
      this.watchExpiry(st, now);
      if (now - st.confirmedAt >= half && !st.checking) due.push(st);
      else if (this.dueForVerification(st, now)) void this.reverify(st);
    }
    if (due.length > 0) void this.refresh(due);
  }

  private dueForVerification(st: TableState, now: number): boolean {
    const every = this.config.replica.verifyMs;
    return every > 0 && st.verified && !st.checking && this.store.pointer(st.table) !== undefined && now - (this.store.verifiedAt(st.table) ?? 0) >= every;
  }

  private watchExpiry(st: TableState, now: number): void {
    if (!this.store.pointer(st.table)) return;
    const age = now - st.confirmedAt;
    const expire = this.config.replica.expireMs;
    if (age > expire) {
      if (!st.expiredLogged) this.log.error({ table: st.table, unconfirmedS: Math.round(age / 1000) }, 'replica expired: the function has not confirmed it within replica.expire_s; not served until it does');
      st.expiredLogged = true;
    } else if (age > expire * NEAR_EXPIRY) {
      if (!st.nearExpiryLogged) this.log.warn({ table: st.table, unconfirmedS: Math.round(age / 1000), expiresInS: Math.round((expire - age) / 1000) }, 'replica nearing expiry: the function has not confirmed it lately');
      st.nearExpiryLogged = true;
    } else {
      if (st.expiredLogged || st.nearExpiryLogged) this.log.info({ table: st.table }, 'replica confirmed again');
      st.nearExpiryLogged = st.expiredLogged = false;
    }
  }

  /** Asks the function for the generations of `states`' tables, in one request; confirms each replica, or transfers the new generation. */
  private async refresh(states: TableState[]): Promise<void> {
    const asked = states.filter((st) => !st.checking);
    if (asked.length === 0 || this.closed) return;
    for (const st of asked) st.checking = true;
    try {
      const sentAt = Date.now();
      let answers: TableGenerationResult[];
      try {
        answers = await this.check(asked.map((st) => st.table));
      } catch (err) {
        this.failed(asked.length === 1 ? asked[0]!.table : undefined, err);
        return;
      }
      const byTable = new Map(answers.map((a) => [a.table, a]));
      await Promise.all(asked.map((st) => this.settle(st, byTable.get(st.table), sentAt)));
    } finally {
      for (const st of asked) st.checking = false;
    }
  }

  /** One table's answer to a generation check: the replica confirmed, deleted (grown too large) or replaced by the new generation. */
  private async settle(st: TableState, active: TableGenerationResult | undefined, sentAt: number): Promise<void> {
    // A table the function could not answer was logged where the request was made; the next tick asks again.
    if (active === undefined || 'error' in active || this.closed) return;
    try {
      const rec = this.store.record(st.table);
      if (this.tables === 'auto' && this.config.tables[st.table]?.replica === undefined && (active.count ?? Infinity) > this.config.replica.maxEntries) {
        st.wanted = false;
        this.view.served.delete(st.table);
        if (rec === undefined) this.log.info({ table: st.table, entries: active.count }, 'table larger than replica.max_entries (or without a count): served through the cache');
        else this.deleteGrown(st.table, rec, active.count);
        return;
      }
      if (rec && rec.generation === active.generation && rec.digest === active.digest) {
        await this.store.confirm(st.table, sentAt);
        st.confirmedAt = Math.max(st.confirmedAt, sentAt);
        return;
      }
      await this.sync(st, active);
    } catch (err) {
      this.failed(st.table, err);
    }
  }

  /** Logged by the resolver when the function failed; a transfer's own failure is logged here. */
  private failed(table: string | undefined, err: unknown): void {
    if (!(err instanceof CallError) && !(err instanceof Error && /circuit open/.test(err.message))) {
      this.log.warn({ ...(table !== undefined && { table }), err: (err as Error).message }, 'replica sync failed; the replica in use (if any) is still served');
    }
  }

  /** A replica of a table that grew over replica.max_entries: deleted, not left behind (unless a sync of another process holds it: that process deletes it when it sees the size). */
  private deleteGrown(table: string, rec: ReplicaRecord, entries: number | undefined): void {
    if (!this.store.takeLease(table, LEASE_MS)) return;
    try {
      this.store.drop(table);
      this.view.release();
      this.log.info({ table, generation: rec.generation, entries, max: this.config.replica.maxEntries }, 'replica deleted: the table grew over replica.max_entries; served through the cache');
    } finally {
      this.store.releaseLease(table);
    }
  }

  private async sync(st: TableState, active: { generation: number; digest?: string }): Promise<void> {
    const table = st.table;
    if (!this.store.takeLease(table, LEASE_MS)) return; // another process of this host is at it
    try {
      const o = { timeoutMs: this.config.upstream.deadlineMs, leaseMs: LEASE_MS };
      const rec = this.store.record(table);
      // Another process may have finished the same transfer while this one waited for the lease.
      if (rec?.generation === active.generation && rec.digest === active.digest) return;
      let result: SyncResult | undefined;
      // Two commits behind, the function answers one step at a time (each verified and published).
      for (let from = rec, step = 0; from && this.store.pointer(table) && step < MAX_INCREMENTAL_STEPS; step++) {
        try {
          result = await incrementalSync(this.store, this.source, table, from, o);
        } catch (err) {
          if (err instanceof Error && err.name === 'VerifyError') this.log.error({ table, reason: err.message }, 'incremental transfer failed verification: transferring the table whole');
          else throw err;
          result = undefined;
        }
        if (result === undefined || result.generation === active.generation) break;
        this.log.info({ table, ...result, ms: Math.round(result.ms) }, 'replica synced one step');
        from = this.store.record(table);
      }
      result ??= await fullSync(this.store, this.source, table, o);
      // This process answers from the new generation from its next lookup on.
      this.view.release();
      st.verified = true;
      st.confirmedAt = Math.max(st.confirmedAt, this.store.confirmedAt(table) ?? 0);
      this.observer?.replicas.synced(table, result.kind, result.entries, result.bytes);
      this.log.info({ table, ...result, ms: Math.round(result.ms) }, 'replica synced');
    } catch (err) {
      if (err instanceof LeaseLost) return;
      throw err;
    } finally {
      this.store.releaseLease(table);
    }
  }
}
