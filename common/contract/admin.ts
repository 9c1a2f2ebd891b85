// The HTTP contract of the admin function: whole-table replacement as a
// transaction (docs/transactions.md), plus listing, undo and
// status. Defined here, once, and imported by `cloudtable load`/`show`/
// `rollback`/`status`. Every request is a POST of JSON under /v1/admin/,
// SigV4-signed like lookups; every answer carries `v`. Bump
// ADMIN_CONTRACT_VERSION on any incompatible change.
//
//   hello → list → begin → send… → validate → apply → commit | rollback
//   (renew keeps the lease while the client is busy elsewhere)

import { SERVICE_FACTS } from '../smtpd/services.js';
import { ContractError, LIMITS, isRecord, isService, type Service } from './lookup.js';

export const ADMIN_CONTRACT_VERSION = 1;

export const ADMIN_PREFIX = '/v1/admin/';

export const ADMIN_OPS = ['hello', 'status', 'list', 'begin', 'renew', 'send', 'validate', 'apply', 'commit', 'rollback', 'undo', 'gc'] as const;
export type AdminOp = (typeof ADMIN_OPS)[number];

export function adminPath(op: AdminOp): string {
  return `${ADMIN_PREFIX}${op}`;
}

/** Limits of the contract itself; the transaction's (entries, lease…) come with hello. */
export const ADMIN_LIMITS = {
  /** Bytes of one request body; a Function URL accepts 6 MB. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** Entries in one send. */
  batchSize: 1000,
  maxKeyBytes: LIMITS.maxKeyBytes,
  /** Above Postfix's 100,000-byte reply limit, so such values can be stored and refused by the proxy with PERM. */
  maxValueBytes: 128 * 1024,
  /** Entries in one page of list. */
  maxListPage: 1000,
} as const;

export interface HelloResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  protocol: 'cloudtable-admin';
  limits: {
    maxEntries: number;
    maxKeyBytes: number;
    maxValueBytes: number;
    batchSize: number;
    maxBodyBytes: number;
    leaseMs: number;
    maxErrors: number;
    graceMs: number;
    keepPreviousMs: number;
  };
  /** The server's clock (ms since the epoch), which leases are judged by. */
  time: number;
}

export interface TransactionStatus {
  state: 'open' | 'validated' | 'invalid' | 'applied';
  owner: string;
  /** The IAM principal that began it, as the function's request context named it. */
  principal?: string;
  started: number;
  leaseUntil: number;
  /** The lease ran out; the next write to the table settles it (discard, or roll back if applied). */
  expired: boolean;
  shadow: number;
  sent: number;
  errors: number;
}

export interface TableStatus {
  table: string;
  /** The generation lookups are answered from; absent while a new table's first load runs. */
  generation?: number;
  epoch: number;
  service?: string;
  count?: number;
  updated?: string;
  /** Who applied the active generation: the signing IAM principal (the owner string for older records). */
  updatedBy?: string;
  previous?: { generation: number; count?: number; until: number };
  transaction?: TransactionStatus;
}

export interface StatusResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  tables: TableStatus[];
  /** Generations waiting to be deleted. */
  garbage: number;
  /** The server's clock (ms), which leases are judged by (added compatibly to v1). */
  time?: number;
}

export interface ListRequest {
  table: string;
  /** The last key of the previous page. */
  cursor?: string;
  limit?: number;
  /**
   * The generation to page through (the `listed` of the first page), so a
   * listing stays in one generation to its end while tables are swapped.
   * Refused with `generation-gone` once that generation is no longer kept
   * (neither active, nor kept for undo, nor part of a live transaction).
   * Without it: the active generation. Added compatibly to v1.
   */
  generation?: number;
}

export interface ListResponse extends TableStatus {
  v: typeof ADMIN_CONTRACT_VERSION;
  /** The generation the entries come from (absent from functions older than the field: the active one). */
  listed?: number;
  entries: Array<{ key: string; value: string }>;
  /** Present when there are more entries: pass it back as `cursor`. */
  cursor?: string;
}

export interface BeginRequest {
  table: string;
  service?: Service;
  /** The epoch seen by list: begin fails if the table changed since. */
  epoch?: number;
  owner: string;
}

export interface BeginResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  table: string;
  txn: string;
  shadow: number;
  base?: number;
  epoch: number;
  service: string;
  leaseUntil: number;
}

export interface TxnRequest {
  table: string;
  txn: string;
}

export interface RenewResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  leaseUntil: number;
}

export interface SendEntry {
  key: string;
  value: string;
  /** Line of the source file, for the error summary. */
  line?: number;
}

export interface SendRequest extends TxnRequest {
  entries: SendEntry[];
  /**
   * Lines of the file the client could not make an entry of (syntax, a
   * repeated key), so that the function's error summary is the whole story
   * and the transaction cannot be applied. Counted in validate's total.
   */
  refused?: EntryProblem[];
}

export interface SendResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  /** Entries accepted so far in this transaction. */
  sent: number;
  /** Entries refused so far. */
  errors: number;
}

export interface EntryProblem {
  line?: number;
  key: string;
  message: string;
}

export interface Diff {
  added: number;
  removed: number;
  changed: number;
}

export interface ValidateRequest extends TxnRequest {
  /** How many entries the client sent in all; a mismatch means a batch was lost. */
  total: number;
}

export interface ValidateResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  ok: boolean;
  count: number;
  errorCount: number;
  /** The first refused entries (hello's maxErrors), in the order they were sent. */
  errors: EntryProblem[];
  /** What apply would change; absent when validation failed. */
  diff?: Diff;
  problem?: string;
}

export interface ApplyResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  generation: number;
  epoch: number;
  previous?: number;
  count: number;
  diff: Diff;
}

export interface CommitResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  generation: number;
  epoch: number;
  /** Kept until `previousUntil` (ms): `undo` can reactivate it until then. */
  previous?: number;
  previousUntil?: number;
}

export interface RollbackResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  generation?: number;
  epoch: number;
  /** The lease had run out: the transaction was already over. */
  expired: boolean;
}

export interface UndoRequest {
  table: string;
  epoch?: number;
}

export type UndoResponse = CommitResponse;

export interface GcRequest {
  /** Wall-clock milliseconds to spend deleting. */
  budgetMs?: number;
}

export interface GcResponse {
  v: typeof ADMIN_CONTRACT_VERSION;
  /** Transactions whose lease had run out, settled now. */
  settled: number;
  generations: number;
  entries: number;
  /** More is due: call again. */
  remaining: boolean;
}

/** Reads the fields of a request body, refusing anything malformed with a 400 that names the field. */
export class RequestFields {
  private readonly body: Record<string, unknown>;

  constructor(body: unknown) {
    if (!isRecord(body)) throw new ContractError(400, 'bad-request', 'body must be a JSON object');
    if (body.v !== ADMIN_CONTRACT_VERSION) {
      throw new ContractError(400, 'bad-version', `admin contract version ${String(body.v)} is not supported; this function speaks v${ADMIN_CONTRACT_VERSION}`);
    }
    this.body = body;
  }

  table(): string {
    const t = this.body.table;
    if (typeof t !== 'string' || !LIMITS.tableName.test(t)) throw new ContractError(400, 'bad-table', 'table must match ' + String(LIMITS.tableName));
    return t;
  }

  string(name: string): string {
    const s = this.body[name];
    if (typeof s !== 'string' || s.length === 0 || s.length > 200) throw new ContractError(400, 'bad-request', `${name} must be a non-empty string`);
    return s;
  }

  optionalString(name: string, max = 1024): string | undefined {
    const s = this.body[name];
    if (s === undefined) return undefined;
    if (typeof s !== 'string' || s.length > max) throw new ContractError(400, 'bad-request', `${name} must be a string of at most ${max} characters`);
    return s;
  }

  optionalInt(name: string, min: number, max: number): number | undefined {
    const n = this.body[name];
    if (n === undefined) return undefined;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ContractError(400, 'bad-request', `${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  }

  int(name: string, min: number, max: number): number {
    const n = this.optionalInt(name, min, max);
    if (n === undefined) throw new ContractError(400, 'bad-request', `${name} is required`);
    return n;
  }

  optionalService(): Service | undefined {
    const s = this.body.service;
    if (s === undefined) return undefined;
    if (!isService(s) || !SERVICE_FACTS[s].declarable) throw new ContractError(400, 'bad-service', `service ${JSON.stringify(s)} is not a table(5) service a table can be declared for`);
    return s;
  }

  /** A send's refused lines, as reported by the client. */
  refused(): EntryProblem[] {
    const r = this.body.refused;
    if (r === undefined) return [];
    if (!Array.isArray(r)) throw new ContractError(400, 'bad-request', 'refused must be an array');
    if (r.length > ADMIN_LIMITS.batchSize) throw new ContractError(413, 'batch-too-large', `${r.length} refused lines; at most ${ADMIN_LIMITS.batchSize} per send`);
    return r.map((x, i): EntryProblem => {
      if (!isRecord(x) || typeof x.key !== 'string' || typeof x.message !== 'string' || x.message.length > 1000) {
        throw new ContractError(400, 'bad-entry', `refused[${i}] must be {key: string, message: string, line?: number}`);
      }
      const line = positiveLine(x.line, `refused[${i}]`);
      return { key: x.key.slice(0, 100), message: x.message, ...(line !== undefined && { line }) };
    });
  }

  /** The entries of a send: shapes and sizes only; their meaning is the validators' job. */
  entries(): SendEntry[] {
    const e = this.body.entries;
    if (!Array.isArray(e)) throw new ContractError(400, 'bad-request', 'entries must be an array');
    if (e.length > ADMIN_LIMITS.batchSize) throw new ContractError(413, 'batch-too-large', `${e.length} entries; at most ${ADMIN_LIMITS.batchSize} per send`);
    return e.map((x, i): SendEntry => {
      if (!isRecord(x) || typeof x.key !== 'string' || typeof x.value !== 'string') {
        throw new ContractError(400, 'bad-entry', `entries[${i}] must be {key: string, value: string, line?: number}`);
      }
      const line = positiveLine(x.line, `entries[${i}]`);
      return { key: x.key, value: x.value, ...(line !== undefined && { line }) };
    });
  }
}

function positiveLine(line: unknown, where: string): number | undefined {
  if (line !== undefined && (typeof line !== 'number' || !Number.isSafeInteger(line) || line < 1)) {
    throw new ContractError(400, 'bad-entry', `${where}.line must be a positive integer`);
  }
  return line;
}
