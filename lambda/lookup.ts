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
import { errorName, type Store } from './store/store.js';

/** Answers one lookup request from the table's active generation. */
export async function lookup(store: Store, body: unknown): Promise<LookupResponse> {
  const request = parseLookupRequest(body);
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
export async function list(store: Store, body: unknown, what: 'entries' | 'patterns'): Promise<ListResponse> {
  const request = parseListRequest(body);
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

/** The Function URL handler of the reader function. */
export function createLookupHandler(store: Store, log: Logger = consoleLogger) {
  const answer =
    (name: string, run: (body: unknown) => Promise<unknown>): FunctionUrlHandler =>
    async (ev) => {
      try {
        return json(200, await run(readJsonBody(ev)));
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
      [LOOKUP_PATH]: answer('lookup', (body) => lookup(store, body)),
      [PATTERNS_PATH]: answer('patterns', (body) => list(store, body, 'patterns')),
      [ENTRIES_PATH]: answer('entries', (body) => list(store, body, 'entries')),
    });
}

const consoleLogger: Logger = {
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
