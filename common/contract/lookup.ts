// The HTTP contract between the mail-host proxy and the cloud function.
// It is defined here, once, and imported by the proxy: the server owns its API.
// Bump CONTRACT_VERSION on any incompatible change; the function rejects other
// versions with 400 so a mismatched proxy fails loudly instead of misreading.

export const CONTRACT_VERSION = 1;

export const LOOKUP_PATH = '/v1/lookup';
/** A page of the active generation's pattern entries (globs, prefixes): see common/smtpd/keys.ts. */
export const PATTERNS_PATH = '/v1/patterns';
/** A page of all the active generation's entries, in key order (regex tables, fetch rotation, replicas). */
export const ENTRIES_PATH = '/v1/entries';
/** A page of what changed between a generation a replica holds and the active one (incremental transfer). */
export const CHANGES_PATH = '/v1/changes';

/**
 * The active generation of several tables in one request (one invocation,
 * one META read per table): how a proxy checks every table it serves at
 * once. Added compatibly in v1: a function that predates it answers 404
 * `no-route`, and the proxy then checks one table at a time with a lookup
 * that asks no keys.
 */
export const GENERATIONS_PATH = '/v1/generations';

export const LIMITS = {
  /** Queries per lookup request; also DynamoDB's BatchGetItem ceiling. */
  maxQueries: 100,
  /** Bytes of one key (UTF-8). DynamoDB's sort-key limit is 1024 bytes. */
  maxKeyBytes: 1024,
  /** Bytes of one request body. 100 keys of 1 KiB plus JSON framing fit. */
  maxBodyBytes: 256 * 1024,
  /** Table names: what DESIGN and smtpd.conf allow, and safe inside a partition key. */
  tableName: /^[A-Za-z0-9_.-]{1,128}$/,
  /** Entries in one page of a listing; a page is also cut at about 1 MB by DynamoDB. */
  maxListEntries: 1000,
} as const;

/** The services of OpenSMTPD's table(5); `auth` is answered on the mail host. */
export const SERVICES = [
  'alias',
  'domain',
  'credentials',
  'netaddr',
  'userinfo',
  'source',
  'mailaddr',
  'addrname',
  'mailaddrmap',
  'relayhost',
  'string',
  'regex',
  'auth',
] as const;
export type Service = (typeof SERVICES)[number];

export function isService(s: unknown): s is Service {
  return typeof s === 'string' && (SERVICES as readonly string[]).includes(s);
}

export interface LookupQuery {
  service: Service;
  key: string;
}

/** A request with no queries only asks for the table's generation. */
export interface LookupRequest {
  v: typeof CONTRACT_VERSION;
  table: string;
  queries: LookupQuery[];
}

export type QueryResult =
  | { s: 'found'; value: string }
  | { s: 'not-found' }
  | { s: 'error'; reason: string };

export interface LookupResponse {
  v: typeof CONTRACT_VERSION;
  table: string;
  /** The active generation every result was read from. */
  generation: number;
  /**
   * Orders every change of the table's active generation, rollbacks to an
   * older generation included: the answer with the higher epoch is the newer
   * one. Added compatibly in v1; absent from functions that predate it.
   */
  epoch?: number;
  /** Entries of the active generation, and their digest (common/contract/digest.ts): added compatibly in v1, absent when META has none. */
  count?: number;
  digest?: string;
  /** One result per query, in query order. */
  results: QueryResult[];
}

export interface ErrorResponse {
  v: typeof CONTRACT_VERSION;
  error: string;
  message: string;
}

export class ContractError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a parsed request body; throws ContractError with a 4xx status. */
export function parseLookupRequest(body: unknown): LookupRequest {
  if (!isRecord(body)) throw new ContractError(400, 'bad-request', 'body must be a JSON object');
  if (body.v !== CONTRACT_VERSION) {
    throw new ContractError(400, 'bad-version', `contract version ${String(body.v)} is not supported; this function speaks v${CONTRACT_VERSION}`);
  }
  const { table, queries } = body;
  if (typeof table !== 'string' || !LIMITS.tableName.test(table)) {
    throw new ContractError(400, 'bad-table', 'table must match ' + String(LIMITS.tableName));
  }
  if (!Array.isArray(queries)) throw new ContractError(400, 'bad-request', 'queries must be an array');
  if (queries.length > LIMITS.maxQueries) {
    throw new ContractError(413, 'too-many-queries', `${queries.length} queries; at most ${LIMITS.maxQueries} per request`);
  }
  const out: LookupQuery[] = [];
  for (const [i, q] of queries.entries()) {
    if (!isRecord(q)) throw new ContractError(400, 'bad-query', `queries[${i}] must be an object`);
    if (!isService(q.service)) throw new ContractError(400, 'bad-service', `queries[${i}].service is not a table(5) service`);
    if (typeof q.key !== 'string' || q.key.length === 0) {
      throw new ContractError(400, 'bad-key', `queries[${i}].key must be a non-empty string`);
    }
    if (byteLength(q.key) > LIMITS.maxKeyBytes) {
      throw new ContractError(413, 'key-too-long', `queries[${i}].key is longer than ${LIMITS.maxKeyBytes} bytes`);
    }
    out.push({ service: q.service, key: q.key });
  }
  return { v: CONTRACT_VERSION, table, queries: out };
}

/**
 * Validates a response as the proxy receives it. Anything that does not match
 * the request exactly (count, shape, version) is an upstream fault: the caller
 * answers `error` for every query rather than guess.
 */
export function parseLookupResponse(body: unknown, expectedTable: string, expectedCount: number): LookupResponse {
  if (!isRecord(body)) throw new Error('response is not a JSON object');
  if (body.v !== CONTRACT_VERSION) throw new Error(`response contract version ${String(body.v)}, expected ${CONTRACT_VERSION}`);
  if (body.table !== expectedTable) throw new Error(`response for table ${String(body.table)}, expected ${expectedTable}`);
  const { generation, results } = body;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw new Error('response generation is not a non-negative integer');
  }
  const epoch = parseEpoch(body);
  const info = parseGenerationInfo(body);
  if (!Array.isArray(results)) throw new Error('response results is not an array');
  if (results.length !== expectedCount) {
    throw new Error(`response has ${results.length} results for ${expectedCount} queries`);
  }
  const out: QueryResult[] = results.map((r, i): QueryResult => {
    if (!isRecord(r)) throw new Error(`results[${i}] is not an object`);
    switch (r.s) {
      case 'found':
        if (typeof r.value !== 'string') throw new Error(`results[${i}].value is not a string`);
        return { s: 'found', value: r.value };
      case 'not-found':
        return { s: 'not-found' };
      case 'error':
        return { s: 'error', reason: typeof r.reason === 'string' ? r.reason : 'upstream error' };
      default:
        throw new Error(`results[${i}].s is ${JSON.stringify(r.s)}`);
    }
  });
  return { v: CONTRACT_VERSION, table: expectedTable, generation, ...(epoch !== undefined && { epoch }), ...info, results: out };
}

/** `POST /v1/patterns` and `POST /v1/entries`: one page of the active generation, in key order (byte order). */
export interface ListRequest {
  v: typeof CONTRACT_VERSION;
  table: string;
  /** Start after this key (the `next` of the previous page). */
  after?: string;
  /** At most this many entries (1–maxListEntries; default maxListEntries). */
  limit?: number;
  /**
   * Read this generation rather than the active one, while the store still
   * keeps it (active, or kept as the previous one); else 410 `gone`. Lets a
   * replica finish a transfer that a commit overtook. Added compatibly in v1.
   */
  generation?: number;
}

export interface ListEntry {
  key: string;
  value: string;
}

export interface ListResponse {
  v: typeof CONTRACT_VERSION;
  table: string;
  /** The active generation this page was read from: a listing whose pages disagree must be restarted. */
  generation: number;
  /** As in LookupResponse. */
  epoch?: number;
  /** The listed generation's entry count and digest, as in LookupResponse. */
  count?: number;
  digest?: string;
  entries: ListEntry[];
  /** Present when there may be more: pass it as `after`. */
  next?: string;
}

export function parseListRequest(body: unknown): ListRequest {
  if (!isRecord(body)) throw new ContractError(400, 'bad-request', 'body must be a JSON object');
  if (body.v !== CONTRACT_VERSION) {
    throw new ContractError(400, 'bad-version', `contract version ${String(body.v)} is not supported; this function speaks v${CONTRACT_VERSION}`);
  }
  const { table, after, limit, generation } = body;
  if (typeof table !== 'string' || !LIMITS.tableName.test(table)) {
    throw new ContractError(400, 'bad-table', 'table must match ' + String(LIMITS.tableName));
  }
  if (after !== undefined && (typeof after !== 'string' || after === '' || byteLength(after) > LIMITS.maxKeyBytes)) {
    throw new ContractError(400, 'bad-after', `after must be a non-empty key of at most ${LIMITS.maxKeyBytes} bytes`);
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > LIMITS.maxListEntries)) {
    throw new ContractError(400, 'bad-limit', `limit must be an integer from 1 to ${LIMITS.maxListEntries}`);
  }
  checkGenerationField(generation, 'the listed generation');
  return {
    v: CONTRACT_VERSION,
    table,
    ...(after !== undefined && { after }),
    ...(limit !== undefined && { limit }),
    ...(generation !== undefined && { generation: generation as number }),
  };
}

/** `what` says which field, in words: a bare field name in a string would read as an import to the bundle check. */
function checkGenerationField(x: unknown, what: string): void {
  if (x !== undefined && (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1)) {
    throw new ContractError(400, 'bad-generation', `${what} must be a generation number (a positive integer)`);
  }
}

/**
 * `POST /v1/changes`: the difference between generation `from` (the one a
 * replica holds) and `to` (the active one unless given), a page at a time in
 * key order. The store keeps a generation's change log from the generation
 * its transaction replaced (and reads it backwards after a rollback), while
 * it keeps the generation. A replica two commits behind, whose generation
 * the previous one's log leads from, gets that first step (the answer's
 * `generation` is the previous one; it asks again from there). Any other
 * pair, or a change too large to have been logged, is 410 `gone`, and the
 * replica transfers the whole table.
 */
export interface ChangesRequest {
  v: typeof CONTRACT_VERSION;
  table: string;
  from: number;
  /** Pin the target generation for the pages after the first (the first answer's `generation`). */
  to?: number;
  after?: string;
  limit?: number;
}

/** One change: the key's value in the target generation; no value means the key is gone. */
export interface ChangeEntry {
  key: string;
  value?: string;
}

export interface ChangesResponse {
  v: typeof CONTRACT_VERSION;
  table: string;
  from: number;
  /** The target generation, with its epoch, entry count and digest. */
  generation: number;
  epoch?: number;
  count?: number;
  digest?: string;
  changes: ChangeEntry[];
  next?: string;
}

export function parseChangesRequest(body: unknown): ChangesRequest {
  const list = parseListRequest(isRecord(body) ? { v: body.v, table: body.table, after: body.after, limit: body.limit } : body);
  const { from, to } = body as Record<string, unknown>;
  if (from === undefined) throw new ContractError(400, 'bad-generation', 'the starting generation of the changes is missing');
  checkGenerationField(from, 'the starting generation of the changes');
  checkGenerationField(to, 'the target generation of the changes');
  return {
    v: CONTRACT_VERSION,
    table: list.table,
    from: from as number,
    ...(to !== undefined && { to: to as number }),
    ...(list.after !== undefined && { after: list.after }),
    ...(list.limit !== undefined && { limit: list.limit }),
  };
}

/** Validates a page of changes as the proxy receives it; throws on anything else. */
export function parseChangesResponse(body: unknown, expectedTable: string, expectedFrom: number): ChangesResponse {
  if (!isRecord(body)) throw new Error('response is not a JSON object');
  if (body.v !== CONTRACT_VERSION) throw new Error(`response contract version ${String(body.v)}, expected ${CONTRACT_VERSION}`);
  if (body.table !== expectedTable) throw new Error(`response for table ${String(body.table)}, expected ${expectedTable}`);
  if (body.from !== expectedFrom) throw new Error(`response from generation ${String(body.from)}, expected ${expectedFrom}`);
  const { generation, changes, next } = body;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) throw new Error('response generation is not a non-negative integer');
  if (!Array.isArray(changes)) throw new Error('response changes is not an array');
  const out = changes.map((c, i): ChangeEntry => {
    if (!isRecord(c) || typeof c.key !== 'string' || (c.value !== undefined && typeof c.value !== 'string')) throw new Error(`changes[${i}] is not a {key, value?} of strings`);
    return c.value === undefined ? { key: c.key } : { key: c.key, value: c.value };
  });
  if (next !== undefined && (typeof next !== 'string' || next === '')) throw new Error('response next is not a non-empty string');
  const epoch = parseEpoch(body);
  return {
    v: CONTRACT_VERSION,
    table: expectedTable,
    from: expectedFrom,
    generation,
    ...(epoch !== undefined && { epoch }),
    ...parseGenerationInfo(body),
    changes: out,
    ...(next !== undefined && { next }),
  };
}

/** The optional `count` and `digest` of an answer (absent from functions that predate them, or for generations without a digest). */
function parseGenerationInfo(body: Record<string, unknown>): { count?: number; digest?: string } {
  const { count, digest } = body;
  if (count !== undefined && (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)) throw new Error('response count is not a non-negative integer');
  if (digest !== undefined && (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))) throw new Error('response digest is not 64 hex digits');
  return { ...(count !== undefined && { count }), ...(digest !== undefined && { digest }) };
}

/** The optional `epoch` of an answer (absent from functions that predate it). */
function parseEpoch(body: Record<string, unknown>): number | undefined {
  const { epoch } = body;
  if (epoch !== undefined && (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0)) {
    throw new Error('response epoch is not a non-negative integer');
  }
  return epoch;
}

/** Validates a listing page as the proxy receives it; throws on anything else. */
export function parseListResponse(body: unknown, expectedTable: string): ListResponse {
  if (!isRecord(body)) throw new Error('response is not a JSON object');
  if (body.v !== CONTRACT_VERSION) throw new Error(`response contract version ${String(body.v)}, expected ${CONTRACT_VERSION}`);
  if (body.table !== expectedTable) throw new Error(`response for table ${String(body.table)}, expected ${expectedTable}`);
  const { generation, entries, next } = body;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw new Error('response generation is not a non-negative integer');
  }
  if (!Array.isArray(entries)) throw new Error('response entries is not an array');
  const out = entries.map((e, i): ListEntry => {
    if (!isRecord(e) || typeof e.key !== 'string' || typeof e.value !== 'string') throw new Error(`entries[${i}] is not a {key, value} of strings`);
    return { key: e.key, value: e.value };
  });
  if (next !== undefined && (typeof next !== 'string' || next === '')) throw new Error('response next is not a non-empty string');
  const epoch = parseEpoch(body);
  return {
    v: CONTRACT_VERSION,
    table: expectedTable,
    generation,
    ...(epoch !== undefined && { epoch }),
    ...parseGenerationInfo(body),
    entries: out,
    ...(next !== undefined && { next }),
  };
}

/** `POST /v1/generations`: the active generation of each of `tables` (1–maxQueries distinct names). */
export interface GenerationsRequest {
  v: typeof CONTRACT_VERSION;
  tables: string[];
}

/**
 * One table's answer: its generation (and epoch, entry count and digest, as
 * in LookupResponse: replicas are confirmed by them), or why there is none
 * (`unknown-table`, or a refusal such as `forbidden`).
 */
export type TableGenerationResult = { table: string; generation: number; epoch?: number; count?: number; digest?: string } | { table: string; error: string };

export interface GenerationsResponse {
  v: typeof CONTRACT_VERSION;
  /** One per table asked, in request order. */
  tables: TableGenerationResult[];
}

export function parseGenerationsRequest(body: unknown): GenerationsRequest {
  if (!isRecord(body)) throw new ContractError(400, 'bad-request', 'body must be a JSON object');
  if (body.v !== CONTRACT_VERSION) {
    throw new ContractError(400, 'bad-version', `contract version ${String(body.v)} is not supported; this function speaks v${CONTRACT_VERSION}`);
  }
  const { tables } = body;
  if (!Array.isArray(tables) || tables.length === 0) throw new ContractError(400, 'bad-request', 'tables must be a non-empty array');
  if (tables.length > LIMITS.maxQueries) throw new ContractError(413, 'too-many-tables', `${tables.length} tables; at most ${LIMITS.maxQueries} per request`);
  for (const [i, t] of tables.entries()) {
    if (typeof t !== 'string' || !LIMITS.tableName.test(t)) throw new ContractError(400, 'bad-table', `tables[${i}] must match ${String(LIMITS.tableName)}`);
  }
  if (new Set(tables).size !== tables.length) throw new ContractError(400, 'bad-request', 'tables must be distinct');
  return { v: CONTRACT_VERSION, tables: tables as string[] };
}

/** Validates the answer to a generations request for `expected`, table by table, in order; throws on anything else. */
export function parseGenerationsResponse(body: unknown, expected: readonly string[]): GenerationsResponse {
  if (!isRecord(body)) throw new Error('response is not a JSON object');
  if (body.v !== CONTRACT_VERSION) throw new Error(`response contract version ${String(body.v)}, expected ${CONTRACT_VERSION}`);
  const { tables } = body;
  if (!Array.isArray(tables) || tables.length !== expected.length) throw new Error(`response does not answer the ${expected.length} tables asked`);
  const out = tables.map((r, i): TableGenerationResult => {
    if (!isRecord(r) || r.table !== expected[i]) throw new Error(`tables[${i}] is not the answer for ${expected[i]}`);
    if (typeof r.error === 'string') return { table: expected[i]!, error: r.error };
    const { generation } = r;
    if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) throw new Error(`tables[${i}].generation is not a non-negative integer`);
    const epoch = parseEpoch(r);
    return { table: expected[i]!, generation, ...(epoch !== undefined && { epoch }), ...parseGenerationInfo(r) };
  });
  return { v: CONTRACT_VERSION, tables: out };
}
