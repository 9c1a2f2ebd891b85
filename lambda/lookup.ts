import { CONTRACT_VERSION, ContractError, LOOKUP_PATH, parseLookupRequest, type LookupResponse, type QueryResult } from './contract.js';
import { errorResult, json, readJsonBody, route, type FunctionUrlEvent, type FunctionUrlResult } from './function-url.js';
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

export interface Logger {
  error(obj: object, msg: string): void;
}

/** The Function URL handler of the reader function. */
export function createLookupHandler(store: Store, log: Logger = consoleLogger) {
  return (event: FunctionUrlEvent): Promise<FunctionUrlResult> =>
    route(event, {
      [LOOKUP_PATH]: async (ev) => {
        try {
          return json(200, await lookup(store, readJsonBody(ev)));
        } catch (err) {
          if (err instanceof ContractError) return errorResult(err);
          // A store failure before any key was read (META unreadable, DynamoDB
          // down): 503, so the proxy answers a temporary failure.
          log.error({ err: errorName(err), requestId: ev.requestContext.requestId }, 'lookup failed');
          return errorResult(new ContractError(503, 'store-unavailable', errorName(err)));
        }
      },
    });
}

const consoleLogger: Logger = {
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
