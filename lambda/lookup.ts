// The reader function: lookups by key, pages of a generation's entries or
// pattern items (the active generation, or a kept one a replica names), and
// pages of changes between two generations for replicas. Every route that
// reads a table asks the read gate first (per-table access by principal).

import {
  CHANGES_PATH,
  CONTRACT_VERSION,
  ContractError,
  ENTRIES_PATH,
  GENERATIONS_PATH,
  LIMITS,
  LOOKUP_PATH,
  PATTERNS_PATH,
  parseChangesRequest,
  parseGenerationsRequest,
  parseListRequest,
  parseLookupRequest,
  type ChangesResponse,
  type GenerationsResponse,
  type ListResponse,
  type LookupResponse,
  type QueryResult,
} from '../common/contract/lookup.js';
import { errorResult, json, readJsonBody, route, type FunctionUrlEvent, type FunctionUrlHandler, type FunctionUrlResult } from './function-url.js';
import { requireRead, type ReadAccess } from './read-access.js';
import { activeView } from './store/meta.js';
import { errorName } from '../common/error-text.js';
import type { Store } from './store/store.js';

/** Refuses (403) a table the caller may not read; every route that reads a table calls it first. */
export type ReadGate = (table: string) => void;

const OPEN: ReadGate = () => {};

/** Answers one lookup request from the table's active generation. */
export async function lookup(store: Store, body: unknown, gate: ReadGate = OPEN): Promise<LookupResponse> {
  const request = parseLookupRequest(body);
  // Before META: a caller without access learns nothing, not even whether the table exists.
  gate(request.table);
  const meta = await store.readMeta(request.table);
  if (!meta) throw new ContractError(404, 'unknown-table', `table ${request.table} does not exist`);
  const reads = await store.readEntries(
    request.table,
    meta.generation,
    request.queries.map((q) => q.key),
  );
  const results = request.queries.map((q): QueryResult => {
    const read = reads.get(q.key);
    if (!read) return { s: 'error', reason: 'key was not read' };
    if ('value' in read) return { s: 'found', value: read.value };
    if ('absent' in read) return { s: 'not-found' };
    return { s: 'error', reason: read.error };
  });
  return { v: CONTRACT_VERSION, table: request.table, generation: meta.generation, epoch: meta.epoch, ...info(meta), results };
}

/**
 * Answers the active generation of several tables: one META read each, in
 * one invocation. A table the caller may not read is answered with the
 * gate's refusal (`access-denied`) and not read: nothing says whether it exists.
 */
export async function generations(store: Store, body: unknown, gate: ReadGate = OPEN): Promise<GenerationsResponse> {
  const request = parseGenerationsRequest(body);
  const refused = request.tables.map((table): string | undefined => {
    try {
      gate(table);
      return undefined;
    } catch (err) {
      if (err instanceof ContractError) return err.code;
      throw err;
    }
  });
  const metas = await Promise.all(request.tables.map((table, i) => (refused[i] === undefined ? store.readMeta(table) : undefined)));
  return {
    v: CONTRACT_VERSION,
    tables: request.tables.map((table, i) => {
      const meta = metas[i];
      if (meta) return { table, generation: meta.generation, epoch: meta.epoch, ...info(meta) };
      return { table, error: refused[i] ?? 'unknown-table' };
    }),
  };
}

/** Answers one page of the active generation's entries or pattern items (or of a kept generation the request names). */
export async function list(store: Store, body: unknown, what: 'entries' | 'patterns', gate: ReadGate = OPEN): Promise<ListResponse> {
  const request = parseListRequest(body);
  gate(request.table);
  const meta = await keptGeneration(store, request.table, request.generation);
  const opts = { limit: request.limit ?? LIMITS.maxListEntries, ...(request.after !== undefined && { startKey: request.after }) };
  const page =
    what === 'entries'
      ? await store.readGenerationPage(request.table, meta.generation, opts)
      : await store.readPatternPage(request.table, meta.generation, opts);
  return {
    v: CONTRACT_VERSION,
    table: request.table,
    generation: meta.generation,
    ...(meta.epoch !== undefined && { epoch: meta.epoch }),
    ...info(meta),
    entries: page.entries.map(([key, value]) => ({ key, value })),
    ...(page.next !== undefined && { next: page.next }),
  };
}

/**
 * Answers one page of an incremental transfer from generation `from` to the
 * active one (or to `to`): the change log of the target, read forwards, or
 * the change log of `from`, read backwards when a rollback made the
 * generation `from` replaced active again. Two commits behind, the first
 * step: the log of the previous generation when it leads from `from` (its
 * `generation` then names that one). Anything else is `gone`.
 */
export async function changes(store: Store, body: unknown, gate: ReadGate = OPEN): Promise<ChangesResponse> {
  const request = parseChangesRequest(body);
  const { table, from } = request;
  gate(table);
  const target = await keptGeneration(store, table, request.to);
  const to = target.generation;
  const opts = { limit: request.limit ?? LIMITS.maxListEntries, ...(request.after !== undefined && { startKey: request.after }) };
  const head = { v: CONTRACT_VERSION, table, from, generation: to, ...(target.epoch !== undefined && { epoch: target.epoch }), ...info(target) } as const;
  if (from === to) return { ...head, changes: [] };
  let page;
  if ((await store.changesFrom(table, to)) === from) {
    page = await store.readChangesPage(table, to, opts);
    return { ...head, changes: page.changes.map((c) => (c.value === undefined ? { key: c.key } : { key: c.key, value: c.value })), ...(page.next !== undefined && { next: page.next }) };
  }
  if ((await store.changesFrom(table, from)) === to) {
    page = await store.readChangesPage(table, from, opts);
    return { ...head, changes: page.changes.map((c) => (c.old === undefined ? { key: c.key } : { key: c.key, value: c.old })), ...(page.next !== undefined && { next: page.next }) };
  }
  // Two commits since `from`: the first of the two logs (to the generation the target's log leads from, still kept as
  // previous), answered as changes to that generation; the replica publishes it and asks again from there.
  const via = request.to === undefined ? await store.changesFrom(table, to) : undefined;
  if (via !== undefined && via !== from && (await store.changesFrom(table, via)) === from) {
    const step = await keptGeneration(store, table, via).catch(() => undefined);
    if (step !== undefined) {
      page = await store.readChangesPage(table, via, opts);
      const stepHead = { v: CONTRACT_VERSION, table, from, generation: via, ...info(step) } as const;
      return { ...stepHead, changes: page.changes.map((c) => (c.value === undefined ? { key: c.key } : { key: c.key, value: c.value })), ...(page.next !== undefined && { next: page.next }) };
    }
  }
  throw new ContractError(410, 'gone', `table ${table} keeps no change log from generation ${from} to ${to}: transfer it whole`);
}

interface GenerationView {
  generation: number;
  /** Only for the active generation: an epoch orders changes of the active one. */
  epoch?: number | undefined;
  count?: number | undefined;
  digest?: string | undefined;
}

/**
 * The active generation, or `generation` while the store still keeps it
 * whole: active, kept as the previous one, or the base of a transaction
 * applied but not yet committed. A generation past those may already be
 * partly deleted: 410 `gone`.
 */
async function keptGeneration(store: Store, table: string, generation: number | undefined): Promise<GenerationView> {
  const m = await store.readMetaRecord(table);
  const view = m ? activeView(m, store.clock()) : undefined;
  if (!m || !view || view.generation === undefined) throw new ContractError(404, 'unknown-table', `table ${table} does not exist`);
  const active = { generation: view.generation, epoch: view.epoch, count: view.count, digest: view.digest };
  if (generation === undefined || generation === view.generation) return active;
  const p = m.previous;
  if (p && p.generation === generation && p.until > store.clock()) return { generation, count: p.count, digest: p.digest };
  const t = m.txn;
  if (t?.state === 'applied' && t.base === generation) return { generation, count: t.baseCount, digest: t.baseDigest };
  throw new ContractError(410, 'gone', `table ${table} no longer keeps generation ${generation}`);
}

function info(g: { count?: number | undefined; digest?: string | undefined }): { count?: number; digest?: string } {
  return { ...(g.count !== undefined && { count: g.count }), ...(g.digest !== undefined && { digest: g.digest }) };
}

export interface Logger {
  error(obj: object, msg: string): void;
}

export interface LookupHandlerOptions {
  log?: Logger;
  /** Per-table read access by the caller's IAM principal; none: every caller reads every table. */
  access?: ReadAccess;
}

/** The Function URL handler of the reader function. */
export function createLookupHandler(store: Store, opts: LookupHandlerOptions = {}) {
  const log = opts.log ?? consoleLogger;
  const answer =
    (name: string, run: (body: unknown, gate: ReadGate) => Promise<unknown>): FunctionUrlHandler =>
    async (ev) => {
      try {
        const principal = ev.requestContext.authorizer?.iam;
        return json(200, await run(readJsonBody(ev), (table) => requireRead(opts.access, table, principal)));
      } catch (err) {
        if (err instanceof ContractError) return errorResult(err);
        // A store failure (META unreadable, DynamoDB down): 503, so the
        // proxy answers a temporary failure.
        log.error({ err: errorName(err), requestId: ev.requestContext.requestId }, `${name} failed`);
        return errorResult(new ContractError(503, 'store-unavailable', errorName(err)));
      }
    };
  return (event: FunctionUrlEvent): Promise<FunctionUrlResult> =>
    route(event, {
      [LOOKUP_PATH]: answer('lookup', (body, gate) => lookup(store, body, gate)),
      [PATTERNS_PATH]: answer('patterns', (body, gate) => list(store, body, 'patterns', gate)),
      [ENTRIES_PATH]: answer('entries', (body, gate) => list(store, body, 'entries', gate)),
      [CHANGES_PATH]: answer('changes', (body, gate) => changes(store, body, gate)),
      [GENERATIONS_PATH]: answer('generations', (body, gate) => generations(store, body, gate)),
    });
}

const consoleLogger: Logger = {
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
