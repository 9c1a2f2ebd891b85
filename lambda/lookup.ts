// The reader function: lookups by key, and pages of a generation's entries
// or pattern items, from each table's active generation. Every route that
// reads a table asks the read gate first (per-table access by principal).

import {
  CONTRACT_VERSION,
  ContractError,
  ENTRIES_PATH,
  LIMITS,
  LOOKUP_PATH,
  PATTERNS_PATH,
  parseListRequest,
  parseLookupRequest,
  type ListResponse,
  type LookupResponse,
  type QueryResult,
} from '../common/contract/lookup.js';
import { errorResult, json, readJsonBody, route, type FunctionUrlEvent, type FunctionUrlHandler, type FunctionUrlResult } from './function-url.js';
import { requireRead, type ReadAccess } from './read-access.js';
import { errorName, type Store } from './store/store.js';

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
  return { v: CONTRACT_VERSION, table: request.table, generation: meta.generation, epoch: meta.epoch, results };
}

/** Answers one page of the active generation's entries or pattern items. */
export async function list(store: Store, body: unknown, what: 'entries' | 'patterns', gate: ReadGate = OPEN): Promise<ListResponse> {
  const request = parseListRequest(body);
  gate(request.table);
  const meta = await store.readMeta(request.table);
  if (!meta) throw new ContractError(404, 'unknown-table', `table ${request.table} does not exist`);
  const opts = { limit: request.limit ?? LIMITS.maxListEntries, ...(request.after !== undefined && { startKey: request.after }) };
  const page =
    what === 'entries'
      ? await store.readGenerationPage(request.table, meta.generation, opts)
      : await store.readPatternPage(request.table, meta.generation, opts);
  return {
    v: CONTRACT_VERSION,
    table: request.table,
    generation: meta.generation,
    epoch: meta.epoch,
    entries: page.entries.map(([key, value]) => ({ key, value })),
    ...(page.next !== undefined && { next: page.next }),
  };
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
    });
}

const consoleLogger: Logger = {
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
