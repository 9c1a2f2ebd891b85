// The admin function's Function URL handler: the admin contract's routes
// onto the store's transactions. Writes happen only here; the reader
// function never writes.

import {
  ADMIN_CONTRACT_VERSION,
  ADMIN_LIMITS,
  RequestFields,
  adminPath,
  type AdminOp,
  type ApplyResponse,
  type BeginResponse,
  type CommitResponse,
  type GcResponse,
  type HelloResponse,
  type ListResponse,
  type RenewResponse,
  type RollbackResponse,
  type SendResponse,
  type StatusResponse,
  type TableStatus,
  type UndoResponse,
  type ValidateResponse,
} from '../../common/contract/admin.js';
import { ContractError } from '../../common/contract/lookup.js';
import { errorResult, json, readJsonBody, route, type FunctionUrlEvent, type FunctionUrlHandler, type FunctionUrlResult } from '../function-url.js';
import { GarbageCollector } from '../store/garbage.js';
import { activeView, isKept, isLive, type MetaRecord } from '../store/meta.js';
import type { Replica, ReplicaWait } from '../store/replicas.js';
import { errorName } from '../../common/error-text.js';
import type { Store } from '../store/store.js';
import { Transactions, TxnError, type TransactionLimits, type TxnErrorCode } from '../store/transaction.js';
import { checkEntries } from './entries.js';

export interface AdminLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AdminOptions {
  limits?: Partial<TransactionLimits>;
  log?: AdminLogger;
  /** The other regions' replicas (several regions: swaps wait for them, collection spares what they still name). */
  replicas?: Replica[];
  replicaWait?: ReplicaWait;
}

export interface Admin {
  handler: FunctionUrlHandler;
  /** Settles transactions whose lease ran out and deletes due garbage (also run on a schedule). */
  collect(budgetMs: number): Promise<GcResponse>;
}

const STATUS: Record<TxnErrorCode, number> = {
  busy: 409,
  changed: 409,
  'lease-expired': 409,
  'no-transaction': 409,
  'bad-state': 409,
  'nothing-to-undo': 409,
  // Temporary: the client may apply again once replication has caught up.
  replicating: 503,
  'unknown-table': 404,
  'no-service': 400,
  'too-many-entries': 413,
  'generation-gone': 409,
};

const DEFAULT_GC_BUDGET_MS = 10_000;

export function createAdmin(store: Store, opts: AdminOptions = {}): Admin {
  const replicas = opts.replicas ?? [];
  const transactions = new Transactions(store, opts.limits, replicas, opts.replicaWait);
  const limits = transactions.limits;
  const gc = new GarbageCollector(store, limits.graceMs, replicas);
  const log = opts.log ?? consoleLogger;
  const v = ADMIN_CONTRACT_VERSION;

  async function collect(budgetMs: number): Promise<GcResponse> {
    let settled = 0;
    for (const table of await store.listTables()) {
      const meta = await store.readMetaRecord(table);
      if (meta?.txn && !isLive(meta.txn, store.clock())) {
        await transactions.settled(table);
        settled++;
        log.info({ table, txn: meta.txn.id, state: meta.txn.state }, 'settled a transaction whose lease ran out');
      }
    }
    const swept = await gc.sweep(budgetMs);
    if (swept.generations > 0) log.info({ ...swept }, 'deleted old generations');
    return { v, settled, ...swept };
  }

  const ops: Record<AdminOp, (f: RequestFields, principal: string | undefined) => Promise<object>> = {
    hello: async (): Promise<HelloResponse> => ({
      v,
      protocol: 'cloudtable-admin',
      limits: {
        maxEntries: limits.maxEntries,
        maxKeyBytes: ADMIN_LIMITS.maxKeyBytes,
        maxValueBytes: ADMIN_LIMITS.maxValueBytes,
        batchSize: ADMIN_LIMITS.batchSize,
        maxBodyBytes: ADMIN_LIMITS.maxBodyBytes,
        leaseMs: limits.leaseMs,
        maxErrors: limits.maxErrors,
        graceMs: limits.graceMs,
        keepPreviousMs: limits.keepPreviousMs,
      },
      time: store.clock(),
    }),

    status: async (): Promise<StatusResponse> => {
      const tables: TableStatus[] = [];
      for (const table of await store.listTables()) {
        const meta = await store.readMetaRecord(table);
        if (meta) tables.push(tableStatus(meta, store.clock()));
      }
      return { v, tables, garbage: await store.pendingGarbage(), time: store.clock() };
    },

    list: async (f): Promise<ListResponse> => {
      const table = f.table();
      const cursor = f.optionalString('cursor', ADMIN_LIMITS.maxKeyBytes * 4);
      const limit = f.optionalInt('limit', 1, ADMIN_LIMITS.maxListPage) ?? ADMIN_LIMITS.maxListPage;
      const pinned = f.optionalInt('generation', 1, Number.MAX_SAFE_INTEGER);
      const meta = await store.readMetaRecord(table);
      if (!meta) throw new TxnError('unknown-table', `table ${table} does not exist`);
      const status = tableStatus(meta, store.clock());
      const generation = pinned ?? status.generation;
      if (generation === undefined) return { v, ...status, entries: [] };
      const page = await store.readGenerationPage(table, generation, { limit, ...(cursor !== undefined && { startKey: cursor }) });
      // Read after the page: a generation kept now was kept all along (none comes back once let go),
      // so the collector cannot have deleted any of the page.
      const now = await store.readMetaRecord(table);
      if (pinned !== undefined && (now === undefined || !isKept(now, pinned, store.clock()))) {
        throw new TxnError('generation-gone', `generation ${pinned} of table ${table} is no longer kept (replaced, or rolled back, since the listing began): list again`);
      }
      return {
        v,
        ...status,
        listed: generation,
        entries: page.entries.map(([key, value]) => ({ key, value })),
        ...(page.next !== undefined && { cursor: page.next }),
      };
    },

    begin: async (f, principal): Promise<BeginResponse> => {
      const table = f.table();
      const service = f.optionalService();
      const epoch = f.optionalInt('epoch', 0, Number.MAX_SAFE_INTEGER);
      const owner = f.string('owner');
      const b = await transactions.begin(table, {
        owner,
        ...(principal !== undefined && { principal }),
        ...(service !== undefined && { service }),
        ...(epoch !== undefined && { expectEpoch: epoch }),
      });
      log.info({ table, txn: b.txn, owner, principal, shadow: b.shadow, base: b.base }, 'transaction begun');
      return { v, table, txn: b.txn, shadow: b.shadow, ...(b.base !== undefined && { base: b.base }), epoch: b.epoch, service: b.service, leaseUntil: b.leaseUntil };
    },

    renew: async (f): Promise<RenewResponse> => ({ v, leaseUntil: await transactions.renew(f.table(), f.string('txn')) }),

    send: async (f): Promise<SendResponse> => {
      const table = f.table();
      const txn = f.string('txn');
      const entries = f.entries();
      const refused = f.refused();
      return { v, ...(await transactions.send(table, txn, (service) => checkEntries(service, entries, refused))) };
    },

    validate: async (f): Promise<ValidateResponse> => {
      const r = await transactions.validate(f.table(), f.string('txn'), f.int('total', 0, Number.MAX_SAFE_INTEGER));
      return {
        v,
        ok: r.ok,
        count: r.count,
        errorCount: r.errorCount,
        errors: r.errors,
        ...(r.diff && { diff: r.diff }),
        ...(r.problem !== undefined && { problem: r.problem }),
      };
    },

    apply: async (f, principal): Promise<ApplyResponse> => {
      const table = f.table();
      const a = await transactions.apply(table, f.string('txn'));
      log.info({ table, principal, generation: a.generation, previous: a.previous, ...a.diff }, 'transaction applied');
      return { v, generation: a.generation, epoch: a.epoch, ...(a.previous !== undefined && { previous: a.previous }), count: a.count, diff: a.diff };
    },

    commit: async (f, principal): Promise<CommitResponse> => {
      const table = f.table();
      const c = await transactions.commit(table, f.string('txn'));
      log.info({ table, principal, generation: c.generation, previous: c.previous }, 'transaction committed');
      return committed(c);
    },

    rollback: async (f, principal): Promise<RollbackResponse> => {
      const table = f.table();
      const r = await transactions.rollback(table, f.string('txn'));
      log.info({ table, principal, generation: r.generation, expired: r.expired }, 'transaction rolled back');
      return { v, ...(r.generation !== undefined && { generation: r.generation }), epoch: r.epoch, expired: r.expired };
    },

    undo: async (f, principal): Promise<UndoResponse> => {
      const table = f.table();
      const epoch = f.optionalInt('epoch', 0, Number.MAX_SAFE_INTEGER);
      const u = await transactions.undo(table, epoch);
      log.info({ table, principal, generation: u.generation, previous: u.previous }, 'previous generation restored');
      return committed(u);
    },

    gc: (f) => collect(f.optionalInt('budgetMs', 1, 600_000) ?? DEFAULT_GC_BUDGET_MS),
  };

  function committed(c: { generation: number; epoch: number; previous: number | undefined; previousUntil: number | undefined }): CommitResponse {
    return {
      v,
      generation: c.generation,
      epoch: c.epoch,
      ...(c.previous !== undefined && { previous: c.previous }),
      ...(c.previousUntil !== undefined && { previousUntil: c.previousUntil }),
    };
  }

  const routes: Record<string, FunctionUrlHandler> = {};
  for (const [op, run] of Object.entries(ops)) {
    routes[adminPath(op as AdminOp)] = async (event: FunctionUrlEvent): Promise<FunctionUrlResult> => {
      try {
        // Who signed, as AWS verified it: the client's `owner` is only what it says of itself.
        const principal = event.requestContext.authorizer?.iam?.userArn;
        return json(200, await run(new RequestFields(readJsonBody(event, ADMIN_LIMITS.maxBodyBytes)), principal));
      } catch (err) {
        if (err instanceof ContractError) return errorResult(err);
        if (err instanceof TxnError) return errorResult(new ContractError(STATUS[err.code], err.code, err.message));
        log.error({ op, err: errorName(err), requestId: event.requestContext.requestId }, 'admin request failed');
        return errorResult(new ContractError(503, 'store-unavailable', errorName(err)));
      }
    };
  }
  return { handler: (event) => route(event, routes), collect };
}

function tableStatus(m: MetaRecord, now: number): TableStatus {
  const view = activeView(m, now);
  const t = m.txn;
  return {
    table: m.table,
    ...(view.generation !== undefined && { generation: view.generation }),
    epoch: view.epoch,
    ...(view.service !== undefined && { service: view.service }),
    ...(view.count !== undefined && { count: view.count }),
    ...(m.updated !== undefined && { updated: m.updated }),
    ...(m.updatedBy !== undefined && { updatedBy: m.updatedBy }),
    ...(m.previous &&
      m.previous.until > now && {
        previous: { generation: m.previous.generation, ...(m.previous.count !== undefined && { count: m.previous.count }), until: m.previous.until },
      }),
    ...(t && {
      transaction: {
        state: t.state,
        owner: t.owner,
        ...(t.principal !== undefined && { principal: t.principal }),
        started: t.started,
        leaseUntil: t.leaseUntil,
        expired: !isLive(t, now),
        shadow: t.shadow,
        sent: t.sent,
        errors: t.errors,
      },
    }),
  };
}

const consoleLogger: AdminLogger = {
  info: (obj, msg) => console.log(JSON.stringify({ level: 'info', msg, ...obj })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
