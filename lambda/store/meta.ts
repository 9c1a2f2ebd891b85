// The META item of a table, decoded, and what a reader makes of it.

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { M } from './schema.js';

export type TxnState = 'open' | 'validated' | 'invalid' | 'applied';

export interface Diff {
  added: number;
  removed: number;
  changed: number;
}

export interface TransactionRecord {
  id: string;
  state: TxnState;
  /** The generation being loaded. */
  shadow: number;
  /** The generation active when the transaction began (undefined: the table had none). */
  base: number | undefined;
  baseCount: number | undefined;
  baseService: string | undefined;
  baseDigest: string | undefined;
  /** The epoch the table must still have at the next step: anything else means someone else changed it. */
  epoch: number;
  /** Lease expiry (ms since the epoch, the server's clock). */
  leaseUntil: number;
  owner: string;
  /** The IAM principal that signed the begin request, as AWS verified it. */
  principal: string | undefined;
  started: number;
  service: string | undefined;
  /** Entries accepted into the shadow generation so far. */
  sent: number;
  /** Entries refused so far (the first ones are in the ERRORS item). */
  errors: number;
  /** Set by validate. */
  count: number | undefined;
  digest: string | undefined;
  diff: Diff | undefined;
}

export interface PreviousRecord {
  generation: number;
  count: number | undefined;
  service: string | undefined;
  digest: string | undefined;
  /** Deleted after this time (ms); `cloudtable rollback` can reactivate it until then. */
  until: number;
}

export interface MetaRecord {
  table: string;
  /** The active generation; undefined while a new table's first load is in progress. */
  generation: number | undefined;
  /** Bumped on every change of the active generation, including rollbacks to an older one. */
  epoch: number;
  /** The highest generation number ever allocated to this table: numbers are never reused. */
  last: number;
  service: string | undefined;
  count: number | undefined;
  digest: string | undefined;
  updated: string | undefined;
  updatedBy: string | undefined;
  previous: PreviousRecord | undefined;
  txn: TransactionRecord | undefined;
}

/**
 * Epoch steps. Apply moves E to E+1. A rollback (asked for, or by lease expiry,
 * seen by a reader before anyone writes it) moves E+1 to E+2. Commit moves E+1
 * to E+3, so that it wins even over a rollback a reader with a fast clock may
 * already have reported at the very end of the lease.
 */
export const EPOCH_STEP = { apply: 1, rollback: 1, commit: 2, undo: 1 } as const;

type Item = Record<string, AttributeValue>;

function num(item: Item, name: string): number | undefined {
  const n = item[name]?.N;
  if (n === undefined) return undefined;
  const v = Number(n);
  return Number.isSafeInteger(v) ? v : undefined;
}

function str(item: Item, name: string): string | undefined {
  return item[name]?.S;
}

export function decodeMeta(table: string, item: Item): MetaRecord {
  const generation = num(item, M.gen);
  const txnId = str(item, M.txn);
  const prev = num(item, M.prev);
  const added = num(item, M.txnAdded);
  return {
    table,
    generation: generation !== undefined && generation > 0 ? generation : undefined,
    // META written before epochs existed moved one generation per replacement.
    epoch: num(item, M.epoch) ?? generation ?? 0,
    last: Math.max(num(item, M.last) ?? 0, generation ?? 0, prev ?? 0, num(item, M.txnShadow) ?? 0),
    service: str(item, M.service),
    count: num(item, M.count),
    digest: str(item, M.digest),
    updated: str(item, M.updated),
    updatedBy: str(item, M.updatedBy),
    previous:
      prev === undefined
        ? undefined
        : { generation: prev, count: num(item, M.prevCount), service: str(item, M.prevService), digest: str(item, M.prevDigest), until: num(item, M.prevUntil) ?? 0 },
    txn:
      txnId === undefined
        ? undefined
        : {
            id: txnId,
            state: (str(item, M.txnState) ?? 'open') as TxnState,
            shadow: num(item, M.txnShadow) ?? 0,
            base: num(item, M.txnBase),
            baseCount: num(item, M.txnBaseCount),
            baseService: str(item, M.txnBaseService),
            baseDigest: str(item, M.txnBaseDigest),
            epoch: num(item, M.txnEpoch) ?? 0,
            leaseUntil: num(item, M.txnLease) ?? 0,
            owner: str(item, M.txnOwner) ?? '',
            principal: str(item, M.txnPrincipal),
            started: num(item, M.txnStarted) ?? 0,
            service: str(item, M.txnService),
            sent: num(item, M.txnSent) ?? 0,
            errors: num(item, M.txnErrors) ?? 0,
            count: num(item, M.txnCount),
            digest: str(item, M.txnDigest),
            diff: added === undefined ? undefined : { added, removed: num(item, M.txnRemoved) ?? 0, changed: num(item, M.txnChanged) ?? 0 },
          },
  };
}

/** What lookups are answered from. */
export interface ActiveView {
  generation: number | undefined;
  epoch: number;
  service: string | undefined;
  count: number | undefined;
  /** Undefined for generations validated before digests were recorded. */
  digest: string | undefined;
}

/**
 * The generation a reader must use at time `now`. A transaction applied and
 * then abandoned (its lease ran out before commit) is rolled back from that
 * instant on, by every reader alike, before any writer gets round to writing
 * the rollback: the reader function only reads.
 */
export function activeView(m: MetaRecord, now: number): ActiveView {
  const t = m.txn;
  if (t && t.state === 'applied' && t.leaseUntil <= now) {
    return { generation: t.base, epoch: m.epoch + EPOCH_STEP.rollback, service: t.baseService, count: t.baseCount, digest: t.baseDigest };
  }
  return { generation: m.generation, epoch: m.epoch, service: m.service, count: m.count, digest: m.digest };
}

/** Whether a transaction still holds the table at `now`. */
export function isLive(t: TransactionRecord, now: number): boolean {
  return t.leaseUntil > now;
}

/**
 * Whether generation `g` is kept at `now`: active (for readers or in META),
 * kept for undo, or part of a live transaction. The collector spares
 * exactly these (garbage.ts), so a kept generation is whole.
 */
export function isKept(m: MetaRecord, g: number, now: number): boolean {
  if (m.generation === g || activeView(m, now).generation === g) return true;
  if (m.previous?.generation === g && m.previous.until > now) return true;
  const t = m.txn;
  return t !== undefined && isLive(t, now) && (t.shadow === g || t.base === g);
}
