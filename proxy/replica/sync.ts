// Transfers of a table's active generation into the replica store: whole
// (the paged listing, streamed into the slot no reader uses) or incremental
// (the function's change log, applied to the slot in use). Nothing is
// published unless its entry count and digest equal what the function
// recorded in META when the transaction was validated; the switch is one
// LMDB write transaction (store.ts).

import { GenerationDigest } from '../../common/contract/digest.js';
import type { ChangeEntry, ChangesResponse, ListResponse, LookupResponse } from '../../common/contract/lookup.js';
import { isPatternKey } from '../../common/smtpd/index.js';
import { CallError } from '../http/call-error.js';
import type { Listing } from '../upstream/client.js';
import type { ReplicaRecord, ReplicaStore, Slot } from './store.js';

/** What a transfer needs of the function's client (HttpUpstream). */
export interface TransferSource {
  lookup(table: string, queries: [], timeoutMs: number): Promise<LookupResponse>;
  list(what: Listing, table: string, after: string | undefined, timeoutMs: number, signal?: AbortSignal, generation?: number): Promise<ListResponse>;
  changes(table: string, from: number, to: number | undefined, after: string | undefined, timeoutMs: number): Promise<ChangesResponse>;
  /** Bytes of answers received so far. */
  readonly bytesReceived: number;
}

export interface SyncOptions {
  /** Per request. */
  timeoutMs: number;
  /** The sync lease: renewed while a transfer runs, so a dead syncer holds it no longer than this. */
  leaseMs: number;
}

export type SyncResult = ReplicaRecord['lastSync'] & { generation: number };

/** The transfer arrived whole but does not match what META recorded: never served. */
export class VerifyError extends Error {
  override name = 'VerifyError';
}

/** The lease passed to another process during the transfer. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

function generationInfo(r: { generation: number; count?: number; digest?: string; epoch?: number }): { count: number; digest: string } {
  if (r.count === undefined || r.digest === undefined) {
    throw new VerifyError(`generation ${r.generation} has no recorded digest (loaded before digests were kept): it cannot be verified, so it is not replicated`);
  }
  return { count: r.count, digest: r.digest };
}

/**
 * A whole transfer: every page of the listing, the first one of the active
 * generation and the rest pinned to it, written into the unused slot, then
 * checked and published.
 */
export async function fullSync(store: ReplicaStore, source: TransferSource, table: string, o: SyncOptions): Promise<SyncResult> {
  const started = performance.now();
  const bytes0 = source.bytesReceived;
  const sentAt = Date.now();
  const current = store.pointer(table);
  const slot: Slot = current?.slot === 0 ? 1 : 0;
  store.clearSlot(table, slot);
  const digest = new GenerationDigest();
  let generation: number | undefined;
  let epoch: number | undefined;
  let expected: { count: number; digest: string } | undefined;
  let after: string | undefined;
  let leaseAt = Date.now();
  do {
    const page = await source.list('entries', table, after, o.timeoutMs, undefined, generation);
    if (generation === undefined) {
      generation = page.generation;
      epoch = page.epoch;
      expected = generationInfo(page);
    } else if (page.generation !== generation) throw new VerifyError(`listing moved from generation ${generation} to ${page.generation}`);
    store.fill(
      table,
      slot,
      page.entries.map((e) => {
        digest.add(e.key, e.value);
        return [e.key, e.value, isPatternKey(e.key)] as const;
      }),
    );
    after = page.next;
    if (Date.now() - leaseAt > o.leaseMs / 3) {
      if (!store.takeLease(table, o.leaseMs)) throw new LeaseLost(`the sync lease of table ${table} passed to another process`);
      leaseAt = Date.now();
    }
  } while (after !== undefined);
  const stored = store.size(table, slot);
  check(table, generation!, expected!, digest, stored);
  const result: SyncResult = { kind: 'full', entries: digest.count, ms: performance.now() - started, bytes: source.bytesReceived - bytes0, at: Date.now(), generation: generation! };
  const { generation: _g, ...lastSync } = result;
  store.publish(table, { generation: generation!, epoch, count: expected!.count, digest: expected!.digest, slot, lastSync }, sentAt);
  // Readers of the old slot keep their snapshot; the pages come back once they are done.
  store.clearSlot(table, current?.slot ?? (slot === 0 ? 1 : 0));
  return result;
}

/**
 * An incremental transfer from the replica's generation to the active one:
 * every page of changes, then, in one write transaction, each change
 * applied with the digest updated entry by entry and checked before the
 * commit. Undefined when the function keeps no change log for this pair
 * (`gone`): the caller transfers the table whole.
 */
export async function incrementalSync(store: ReplicaStore, source: TransferSource, table: string, from: ReplicaRecord, o: SyncOptions): Promise<SyncResult | undefined> {
  const started = performance.now();
  const bytes0 = source.bytesReceived;
  const sentAt = Date.now();
  const changes: ChangeEntry[] = [];
  let first: ChangesResponse | undefined;
  let after: string | undefined;
  try {
    do {
      const page = await source.changes(table, from.generation, first?.generation, after, o.timeoutMs);
      first ??= page;
      changes.push(...page.changes);
      after = page.next;
    } while (after !== undefined);
  } catch (err) {
    if (err instanceof CallError && err.status === 410) return undefined;
    throw err;
  }
  const target = first!;
  const expected = generationInfo(target);
  const slot = from.slot;
  const dbs = store.dbs(table);
  const result: SyncResult = { kind: 'incremental', entries: changes.length, ms: 0, bytes: source.bytesReceived - bytes0, at: Date.now(), generation: target.generation };
  const { generation: _g, ...lastSync } = result;
  store.publish(table, { generation: target.generation, epoch: target.epoch, count: expected.count, digest: expected.digest, slot, lastSync }, sentAt, () => {
    const digest = GenerationDigest.from(from.digest, from.count);
    const entries = dbs.entries[slot];
    const patterns = dbs.patterns[slot];
    for (const c of changes) {
      const old = entries.get(c.key);
      if (old !== undefined) digest.remove(c.key, old);
      if (c.value === undefined) {
        if (old !== undefined) void entries.remove(c.key);
        if (isPatternKey(c.key)) void patterns.remove(c.key);
      } else {
        digest.add(c.key, c.value);
        void entries.put(c.key, c.value);
        if (isPatternKey(c.key)) void patterns.put(c.key, c.value);
      }
    }
    // Throwing aborts the transaction: nothing of it is ever seen.
    check(table, target.generation, expected, digest, digest.count);
  });
  result.ms = performance.now() - started;
  return result;
}

function check(table: string, generation: number, expected: { count: number; digest: string }, got: GenerationDigest, stored: number): void {
  if (got.count !== expected.count || stored !== expected.count) {
    throw new VerifyError(`table ${table} generation ${generation}: ${got.count} entries transferred, ${stored} stored, META says ${expected.count}`);
  }
  if (got.hex() !== expected.digest) throw new VerifyError(`table ${table} generation ${generation}: digest ${got.hex()} is not META's ${expected.digest}`);
}

/** Entries digested between two yields of the event loop when verifying in turns. */
const VERIFY_TURN_ENTRIES = 10_000;

/**
 * `verifyStored` of the generation served now, in turns of the event loop
 * (lookups keep being answered), through one snapshot held for the whole of
 * it; undefined when the table has no replica.
 */
export async function verifyServed(store: ReplicaStore, table: string): Promise<{ record: ReplicaRecord; result: ReturnType<typeof verifyStored> } | undefined> {
  store.dbs(table); // opened before the snapshot, which cannot read a database opened after it
  const at = { transaction: store.snapshot() };
  try {
    const record = store.record(table, at);
    if (!record) return undefined;
    const d = new GenerationDigest();
    try {
      for (const [k, v] of store.entries(table, record.slot, at)) {
        d.add(k, v);
        if (d.count % VERIFY_TURN_ENTRIES === 0) await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      return { record, result: { ok: false, reason: `unreadable: ${(err as Error).message}` } };
    }
    return { record, result: compare(d, record) };
  } finally {
    at.transaction.done();
  }
}

function compare(d: GenerationDigest, record: ReplicaRecord): { ok: true } | { ok: false; reason: string } {
  if (d.count !== record.count) return { ok: false, reason: `${d.count} entries stored, ${record.count} expected` };
  if (d.hex() !== record.digest) return { ok: false, reason: 'digest of the stored entries differs from the recorded one' };
  return { ok: true };
}

/** Recomputes a replica's count and digest from its stored entries: false when they do not match its record (or cannot be read). */
export function verifyStored(store: ReplicaStore, table: string, record: ReplicaRecord): { ok: true } | { ok: false; reason: string } {
  const d = new GenerationDigest();
  try {
    for (const [k, v] of store.entries(table, record.slot)) d.add(k, v);
  } catch (err) {
    return { ok: false, reason: `unreadable: ${(err as Error).message}` };
  }
  return compare(d, record);
}
