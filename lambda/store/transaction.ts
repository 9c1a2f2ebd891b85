// Whole-table replacement as a transaction on the store (docs/transactions.md): begin → send entries into a shadow generation → validate →
// apply (swap the active generation) → commit, or rollback at any point.
//
// Every step is one conditional write of the table's META item, so two
// writers can never both win and a change made by anyone else shows up as a
// failed condition at the next step. HTTP has no connection whose loss could
// end a transaction, so each holds a lease the client renews: a lease that
// runs out before apply discards the shadow; one that runs out between apply
// and commit rolls back — at once for readers (see activeView), and in the
// stored META at the next write that touches the table.

import { randomUUID } from 'node:crypto';
import { diffGenerations, type Comparison } from './diff.js';
import { EPOCH_STEP, activeView, isLive, type Diff, type MetaRecord, type TransactionRecord, type TxnState } from './meta.js';
import { DEFAULT_REPLICA_WAIT, ReplicaLagError, awaitReplicas, type Replica, type ReplicaWait } from './replicas.js';
import { M, TXN_ATTRIBUTES } from './schema.js';
import { isConditionFailure, type EntryError, type Store } from './store.js';

export interface TransactionLimits {
  /** How long a transaction lives without a step or a renewal. */
  leaseMs: number;
  /** How long a generation no reader can reach any more is kept, for lookups still reading it. */
  graceMs: number;
  /** How long after a commit the previous generation is kept, so `cloudtable rollback` can restore it. */
  keepPreviousMs: number;
  maxEntries: number;
  /** Refused entries whose details are kept and reported; the rest are only counted. */
  maxErrors: number;
  /** Largest change log kept for incremental transfers to replicas (also at most a quarter of the base's entries, or 1,000). */
  maxChangeLog: number;
}

export const DEFAULT_TRANSACTION_LIMITS: TransactionLimits = {
  leaseMs: 30_000,
  graceMs: 30_000,
  keepPreviousMs: 24 * 3600_000,
  maxEntries: 1_000_000,
  maxErrors: 20,
  maxChangeLog: 100_000,
};

export type TxnErrorCode =
  | 'busy'
  | 'changed'
  | 'lease-expired'
  | 'no-transaction'
  | 'bad-state'
  | 'unknown-table'
  | 'no-service'
  | 'too-many-entries'
  | 'nothing-to-undo'
  | 'replicating'
  /** A listing's generation is no longer kept. */
  | 'generation-gone';

/** A step refused: the transaction or the table is not in a state that allows it. */
export class TxnError extends Error {
  override name = 'TxnError';
  constructor(
    readonly code: TxnErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface BeginOptions {
  /** The table(5) service the entries are for; required for a new table. */
  service?: string;
  /** Who is loading (shown to a second writer). */
  owner: string;
  /** The IAM principal that signed the request, recorded beside the owner string the client chose. */
  principal?: string;
  /** The epoch the client listed; the table must still have it. */
  expectEpoch?: number;
}

/** A batch split by the caller's entry checks. */
export interface CheckedBatch {
  accepted: Array<readonly [string, string]>;
  rejected: EntryError[];
}

export interface Begun {
  txn: string;
  shadow: number;
  base: number | undefined;
  epoch: number;
  service: string;
  leaseUntil: number;
}

export interface Validation {
  ok: boolean;
  /** Entries in the shadow generation. */
  count: number;
  errorCount: number;
  errors: EntryError[];
  diff: Diff | undefined;
  /** Why validation failed beyond per-entry errors (lost batches, duplicate keys). */
  problem?: string;
}

export interface Applied {
  generation: number;
  epoch: number;
  previous: number | undefined;
  diff: Diff;
  count: number;
}

export interface Committed {
  generation: number;
  epoch: number;
  previous: number | undefined;
  previousUntil: number | undefined;
}

export interface RolledBack {
  generation: number | undefined;
  epoch: number;
  /** True when the lease had already run out and the rollback had happened by itself. */
  expired: boolean;
}

export class Transactions {
  readonly limits: TransactionLimits;

  constructor(
    private readonly store: Store,
    limits: Partial<TransactionLimits> = {},
    /** The other regions' replicas a swap waits for (replicas.ts); none with one region. */
    private readonly replicas: readonly Replica[] = [],
    private readonly replicaWait: ReplicaWait = DEFAULT_REPLICA_WAIT,
  ) {
    this.limits = { ...DEFAULT_TRANSACTION_LIMITS, ...limits };
  }

  private now(): number {
    return this.store.clock();
  }

  /** Takes the table for one transaction and allocates its shadow generation. */
  async begin(table: string, o: BeginOptions): Promise<Begun> {
    let meta = await this.settled(table);
    const now = this.now();
    if (meta?.txn) throw busy(table, meta.txn, now);
    const epoch = meta?.epoch ?? 0;
    if (o.expectEpoch !== undefined && o.expectEpoch !== epoch) throw changed(table, o.expectEpoch, epoch);
    const service = o.service ?? meta?.service;
    if (service === undefined) throw new TxnError('no-service', `table ${table} is new: name the service its entries are for`);
    const shadow = (meta?.last ?? 0) + 1;
    const id = randomUUID();
    const leaseUntil = now + this.limits.leaseMs;
    const set = [
      '#last = :shadow',
      '#epoch = :epoch',
      '#txn = :id',
      '#txnState = :open',
      '#txnShadow = :shadow',
      '#txnEpoch = :epoch',
      '#txnLease = :lease',
      '#txnOwner = :owner',
      '#txnStarted = :now',
      '#txnService = :service',
      '#txnSent = :zero',
      '#txnErrors = :zero',
    ];
    const values: Record<string, string | number> = { shadow, epoch, id, open: 'open', lease: leaseUntil, owner: o.owner, now, service, zero: 0 };
    if (o.principal !== undefined) {
      set.push('#txnPrincipal = :principal');
      values.principal = o.principal;
    }
    if (meta?.generation !== undefined) {
      set.push('#txnBase = :base');
      values.base = meta.generation;
      if (meta.count !== undefined) {
        set.push('#txnBaseCount = :baseCount');
        values.baseCount = meta.count;
      }
      if (meta.service !== undefined) {
        set.push('#txnBaseService = :baseService');
        values.baseService = meta.service;
      }
      if (meta.digest !== undefined) {
        set.push('#txnBaseDigest = :baseDigest');
        values.baseDigest = meta.digest;
      }
    }
    try {
      meta = await this.store.updateMeta(table, {
        update: `SET ${set.join(', ')}`,
        // Nobody else began, and nothing changed the table, since we read it.
        condition: 'attribute_not_exists(#txn) AND (attribute_not_exists(#epoch) OR #epoch = :epoch) AND (attribute_not_exists(#last) OR #last < :shadow)',
        values,
      });
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = await this.store.readMetaRecord(table);
      if (current?.txn) throw busy(table, current.txn, this.now());
      throw changed(table, epoch, current?.epoch ?? 0);
    }
    await this.store.registerTable(table);
    return { txn: id, shadow, base: meta.txn?.base, epoch, service, leaseUntil };
  }

  /** Extends the lease; the client calls this while it has nothing else to send. */
  async renew(table: string, txn: string): Promise<number> {
    const meta = await this.own(table, txn);
    const leaseUntil = this.now() + this.limits.leaseMs;
    await this.step(table, meta.txn, { update: 'SET #txnLease = :lease', values: { lease: leaseUntil } });
    return leaseUntil;
  }

  /**
   * Adds a batch to the shadow generation. `check` splits it, knowing the
   * service the transaction loads for, into entries to write and entries
   * refused (counted, the first ones kept for the summary). Once anything is
   * refused nothing more is written: the transaction can no longer be applied.
   */
  async send(table: string, txn: string, check: (service: string) => CheckedBatch): Promise<{ sent: number; errors: number }> {
    const meta = await this.own(table, txn, ['open']);
    const t = meta.txn;
    const { accepted, rejected } = check(t.service ?? '');
    if (t.sent + accepted.length > this.limits.maxEntries) {
      throw new TxnError('too-many-entries', `table ${table}: more than ${this.limits.maxEntries} entries`);
    }
    if (t.errors === 0 && rejected.length === 0) await this.store.writeEntries(table, t.shadow, accepted);
    const room = this.limits.maxErrors - t.errors;
    if (rejected.length > 0 && room > 0) await this.store.appendErrors(table, txn, rejected.slice(0, room));
    const after = await this.step(table, t, {
      update: 'SET #txnLease = :lease ADD #txnSent :n, #txnErrors :e',
      values: { lease: this.now() + this.limits.leaseMs, n: accepted.length, e: rejected.length },
      states: ['open'],
    });
    return { sent: after.txn?.sent ?? 0, errors: after.txn?.errors ?? 0 };
  }

  /**
   * Ends the sending: checks that everything the client sent (`total`
   * entries) arrived and was accepted, and compares the shadow with the
   * active generation. The result is kept: apply needs a successful one.
   */
  async validate(table: string, txn: string, total: number): Promise<Validation> {
    const meta = await this.own(table, txn, ['open', 'validated', 'invalid']);
    const t = meta.txn;
    const errors = t.errors > 0 ? await this.store.readErrors(table, txn) : [];
    const base = { count: t.sent, errorCount: t.errors, errors };
    if (t.state !== 'open') {
      return { ...base, ok: t.state === 'validated', count: t.count ?? t.sent, diff: t.diff };
    }
    let problem: string | undefined;
    let result: Comparison | undefined;
    if (total !== t.sent + t.errors) {
      problem = `the client sent ${total} entries but ${t.sent + t.errors} arrived`;
    } else if (t.errors === 0) {
      const maxChanges = Math.min(this.limits.maxChangeLog, Math.max(1000, Math.floor((t.baseCount ?? 0) / 4)));
      result = await diffGenerations(this.store, table, t.base, t.shadow, maxChanges);
      if (result.count !== t.sent) problem = `${t.sent} entries were sent but the shadow generation holds ${result.count}: keys repeat across batches`;
      // Written before the state says validated: a validation that dies half-way is run again, log included.
      else if (result.changes && t.base !== undefined) await this.store.writeChanges(table, t.shadow, t.base, result.changes);
    }
    const ok = problem === undefined && t.errors === 0;
    const values: Record<string, string | number> = { state: ok ? 'validated' : 'invalid', lease: this.now() + this.limits.leaseMs };
    let update = 'SET #txnState = :state, #txnLease = :lease';
    if (result) {
      update += ', #txnCount = :count, #txnDigest = :digest, #txnAdded = :added, #txnRemoved = :removed, #txnChanged = :changed';
      Object.assign(values, { count: result.count, digest: result.digest, ...result.diff });
    }
    await this.step(table, t, { update, values, states: ['open'] });
    return { ...base, ok, count: result?.count ?? t.sent, diff: result?.diff, ...(problem !== undefined && { problem }) };
  }

  /**
   * Makes the shadow generation the active one, in one conditional write,
   * once every other region's replica holds it whole (replicas.ts).
   */
  async apply(table: string, txn: string): Promise<Applied> {
    const meta = await this.own(table, txn, ['validated']);
    const t = meta.txn;
    try {
      await awaitReplicas(this.store, this.replicas, table, t.shadow, this.replicaWait);
    } catch (err) {
      if (err instanceof ReplicaLagError) throw new TxnError('replicating', `table ${table}: ${err.message}`);
      throw err;
    }
    const now = this.now();
    const after = await this.step(table, t, {
      update:
        'SET #gen = :shadow, #epoch = #epoch + :step, #txnEpoch = #txnEpoch + :step, #count = :count, #service = :service, #updated = :updated, #updatedBy = :by, #txnState = :applied, #txnLease = :lease' +
        (t.digest !== undefined ? ', #digest = :digest' : ' REMOVE #digest'),
      values: {
        ...(t.digest !== undefined && { digest: t.digest }),
        shadow: t.shadow,
        step: EPOCH_STEP.apply,
        count: t.count ?? t.sent,
        service: t.service ?? meta.service ?? '',
        updated: new Date(now).toISOString(),
        by: t.principal ?? t.owner,
        applied: 'applied',
        lease: now + this.limits.leaseMs,
      },
      states: ['validated'],
    });
    return { generation: t.shadow, epoch: after.epoch, previous: t.base, diff: t.diff ?? { added: 0, removed: 0, changed: 0 }, count: t.count ?? t.sent };
  }

  /** Ends an applied transaction: the generation it replaced is kept for undo, the one before that collected. */
  async commit(table: string, txn: string): Promise<Committed> {
    const meta = await this.own(table, txn, ['applied']);
    const t = meta.txn;
    const now = this.now();
    const keep = this.limits.keepPreviousMs > 0 && t.base !== undefined;
    const previousUntil = keep ? now + this.limits.keepPreviousMs : undefined;
    // Scheduled before the swap: the collector re-checks that a generation is
    // unreferenced before deleting it, so an early entry is harmless, and a
    // crash after the swap cannot leave a generation that is never collected.
    if (meta.previous) await this.store.scheduleGarbage(table, meta.previous.generation, now + this.limits.graceMs);
    if (t.base !== undefined) await this.store.scheduleGarbage(table, t.base, keep ? previousUntil! : now + this.limits.graceMs);
    const set = ['#epoch = #epoch + :step'];
    const values: Record<string, string | number> = { step: EPOCH_STEP.commit };
    const remove = [...TXN_ATTRIBUTES];
    if (keep) {
      set.push('#prev = :prev', '#prevUntil = :until');
      Object.assign(values, { prev: t.base!, until: previousUntil! });
      if (t.baseCount !== undefined) (set.push('#prevCount = :prevCount'), (values.prevCount = t.baseCount));
      else remove.push(M.prevCount);
      if (t.baseService !== undefined) (set.push('#prevService = :prevService'), (values.prevService = t.baseService));
      else remove.push(M.prevService);
      if (t.baseDigest !== undefined) (set.push('#prevDigest = :prevDigest'), (values.prevDigest = t.baseDigest));
      else remove.push(M.prevDigest);
    } else remove.push(M.prev, M.prevUntil, M.prevCount, M.prevService, M.prevDigest);
    const after = await this.step(table, t, {
      update: `SET ${set.join(', ')} REMOVE ${remove.map((a) => `#${a}`).join(', ')}`,
      values,
      states: ['applied'],
    });
    await this.store.clearErrors(table, txn);
    return { generation: t.shadow, epoch: after.epoch, previous: keep ? t.base : undefined, previousUntil };
  }

  /** Abandons the transaction: before apply the shadow is discarded; after apply the old generation comes back first. */
  async rollback(table: string, txn: string): Promise<RolledBack> {
    const meta = await this.store.readMetaRecord(table);
    if (!meta) throw unknownTable(table);
    const now = this.now();
    if (meta.txn?.id !== txn) throw notYours(table, txn, meta.txn);
    const expired = !isLive(meta.txn, now);
    const after = await this.undoTransaction(table, meta, meta.txn, expired ? 'expired' : 'asked');
    const view = activeView(after, now);
    return { generation: view.generation, epoch: view.epoch, expired };
  }

  /** `cloudtable rollback`: makes the kept previous generation active again (and the current one the previous). */
  async undo(table: string, expectEpoch?: number): Promise<Committed> {
    const meta = await this.settled(table);
    if (!meta) throw unknownTable(table);
    const now = this.now();
    if (meta.txn) throw busy(table, meta.txn, now);
    if (expectEpoch !== undefined && expectEpoch !== meta.epoch) throw changed(table, expectEpoch, meta.epoch);
    const p = meta.previous;
    if (!p || p.until <= now || meta.generation === undefined) {
      throw new TxnError('nothing-to-undo', `table ${table} keeps no previous generation to go back to`);
    }
    await this.store.scheduleGarbage(table, meta.generation, p.until);
    const values: Record<string, string | number> = { gen: p.generation, prev: meta.generation, epoch: meta.epoch, step: EPOCH_STEP.undo, now };
    const set = ['#gen = :gen', '#prev = :prev', '#epoch = #epoch + :step'];
    const remove: string[] = [];
    swap(set, remove, values, M.count, p.count, M.prevCount, meta.count);
    swap(set, remove, values, M.service, p.service, M.prevService, meta.service);
    swap(set, remove, values, M.digest, p.digest, M.prevDigest, meta.digest);
    let after: MetaRecord;
    try {
      after = await this.store.updateMeta(table, {
        update: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.map((a) => `#${a}`).join(', ')}` : ''}`,
        condition: 'attribute_not_exists(#txn) AND #epoch = :epoch AND #gen = :prev AND #prev = :gen AND #prevUntil > :now',
        values,
      });
    } catch (err) {
      if (isConditionFailure(err)) throw new TxnError('changed', `table ${table} changed while rolling back; look again`);
      throw err;
    }
    return { generation: p.generation, epoch: after.epoch, previous: meta.generation, previousUntil: p.until };
  }

  /** The META item with any transaction whose lease ran out settled first. */
  async settled(table: string): Promise<MetaRecord | undefined> {
    const meta = await this.store.readMetaRecord(table);
    if (!meta?.txn || isLive(meta.txn, this.now())) return meta;
    await this.undoTransaction(table, meta, meta.txn, 'expired');
    return this.store.readMetaRecord(table);
  }

  /** Reads META and checks that `txn` holds the table, live, in one of `states`. */
  private async own(table: string, txn: string, states?: TxnState[]): Promise<MetaRecord & { txn: TransactionRecord }> {
    const meta = await this.store.readMetaRecord(table);
    if (!meta) throw unknownTable(table);
    const t = meta.txn;
    if (t?.id !== txn) throw notYours(table, txn, t);
    if (!isLive(t, this.now())) {
      await this.undoTransaction(table, meta, t, 'expired');
      throw new TxnError(
        'lease-expired',
        t.state === 'applied'
          ? `the lease of transaction ${txn} on table ${table} ran out before commit: the table was rolled back to generation ${t.base ?? 'none'}`
          : `the lease of transaction ${txn} on table ${table} ran out: the shadow generation was discarded`,
      );
    }
    if (meta.epoch !== t.epoch) throw changed(table, t.epoch, meta.epoch);
    if (states && !states.includes(t.state)) throw badState(table, t.state, states);
    return meta as MetaRecord & { txn: TransactionRecord };
  }

  /**
   * A conditional write of a step: only while `t` still holds the table,
   * live, unchanged by anyone else, in one of `states`.
   */
  private async step(table: string, t: TransactionRecord, u: { update: string; values: Record<string, string | number>; states?: TxnState[] }): Promise<MetaRecord> {
    const states = u.states ?? [];
    const stateCond = states.length > 0 ? ` AND #txnState IN (${states.map((_, i) => `:st${i}`).join(', ')})` : '';
    const values: Record<string, string | number> = { ...u.values, txnId: t.id, now: this.now() };
    states.forEach((s, i) => (values[`st${i}`] = s));
    try {
      return await this.store.updateMeta(table, {
        update: u.update,
        condition: `#txn = :txnId AND #txnLease > :now AND #epoch = #txnEpoch${stateCond}`,
        values,
      });
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Say which part failed, from the item as it is now.
      const meta = await this.store.readMetaRecord(table);
      if (!meta) throw unknownTable(table);
      if (meta.txn?.id !== t.id) throw notYours(table, t.id, meta.txn);
      if (!isLive(meta.txn, this.now())) throw new TxnError('lease-expired', `the lease of transaction ${t.id} on table ${table} ran out`);
      if (meta.epoch !== meta.txn.epoch) throw changed(table, meta.txn.epoch, meta.epoch);
      throw badState(table, meta.txn.state, states);
    }
  }

  /**
   * Ends `t` without committing: schedules its shadow for collection and, if
   * it was applied, reactivates the generation it replaced. Conditional on
   * `t` still being the transaction (and, for `expired`, on its lease having
   * run out), so racing settlers and a late commit cannot both win.
   */
  private async undoTransaction(table: string, meta: MetaRecord, t: TransactionRecord, why: 'asked' | 'expired'): Promise<MetaRecord> {
    const now = this.now();
    await this.store.scheduleGarbage(table, t.shadow, now + this.limits.graceMs);
    const remove: string[] = [...TXN_ATTRIBUTES];
    const set: string[] = [];
    const values: Record<string, string | number> = { txnId: t.id, now };
    let condition = why === 'expired' ? '#txn = :txnId AND #txnLease <= :now' : '#txn = :txnId';
    if (t.state === 'applied' && meta.epoch === t.epoch) {
      set.push('#epoch = #epoch + :step', '#updated = :updated');
      Object.assign(values, { step: EPOCH_STEP.rollback, updated: new Date(now).toISOString() });
      if (t.base !== undefined) (set.push('#gen = :base'), (values.base = t.base));
      else remove.push(M.gen);
      if (t.baseCount !== undefined) (set.push('#count = :baseCount'), (values.baseCount = t.baseCount));
      else remove.push(M.count);
      if (t.baseService !== undefined) (set.push('#service = :baseService'), (values.baseService = t.baseService));
      if (t.baseDigest !== undefined) (set.push('#digest = :baseDigest'), (values.baseDigest = t.baseDigest));
      else remove.push(M.digest);
      condition += ' AND #epoch = #txnEpoch';
    }
    try {
      const after = await this.store.updateMeta(table, {
        update: `${set.length > 0 ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.map((a) => `#${a}`).join(', ')}`,
        condition,
        values,
      });
      await this.store.clearErrors(table, t.id);
      return after;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Someone else settled it first (or, for an expired one, renewed in time): take the table as it is.
      const current = await this.store.readMetaRecord(table);
      if (!current) throw unknownTable(table);
      if (why === 'asked' && current.txn?.id === t.id) throw changed(table, t.epoch, current.epoch);
      return current;
    }
  }
}

function swap(
  set: string[],
  remove: string[],
  values: Record<string, string | number>,
  a: string,
  aValue: string | number | undefined,
  b: string,
  bValue: string | number | undefined,
): void {
  for (const [name, value] of [
    [a, aValue],
    [b, bValue],
  ] as const) {
    if (value === undefined) remove.push(name);
    else {
      set.push(`#${name} = :${name}`);
      values[name] = value;
    }
  }
}

function busy(table: string, t: TransactionRecord, now: number): TxnError {
  const left = Math.max(0, Math.ceil((t.leaseUntil - now) / 1000));
  return new TxnError(
    'busy',
    `table ${table} is being replaced by another transaction (${t.owner || 'unknown owner'}, started ${new Date(t.started).toISOString()}, ${t.state}); ` +
      `it holds the table for ${left} s more unless renewed`,
  );
}

function changed(table: string, expected: number, actual: number): TxnError {
  return new TxnError('changed', `table ${table} was changed by someone else (epoch ${actual}, expected ${expected}): start again`);
}

function notYours(table: string, txn: string, current: TransactionRecord | undefined): TxnError {
  return new TxnError(
    'no-transaction',
    current
      ? `transaction ${txn} no longer holds table ${table}: ${current.owner || 'another writer'} took it over after the lease ran out`
      : `no transaction ${txn} on table ${table}: it ended, or its lease ran out and it was settled`,
  );
}

function badState(table: string, state: TxnState, allowed: TxnState[]): TxnError {
  const hint = state === 'invalid' ? ': validation failed, roll back' : state === 'open' ? ': validate first' : state === 'validated' ? ': apply first' : '';
  return new TxnError('bad-state', `transaction on table ${table} is ${state}, not ${allowed.join(' or ')}${hint}`);
}

function unknownTable(table: string): TxnError {
  return new TxnError('unknown-table', `table ${table} does not exist`);
}
