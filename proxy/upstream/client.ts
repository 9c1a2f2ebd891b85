// The lookup client of the reader function: lookups and listings of one
// table, as SigV4-signed JSON calls on one endpoint (http/signed-call.ts).
// Anything but a well-formed answer to exactly the request sent is a
// CallError: the resolver turns it into `error`, never into "not found".

import {
  CHANGES_PATH,
  CONTRACT_VERSION,
  ENTRIES_PATH,
  GENERATIONS_PATH,
  LOOKUP_PATH,
  PATTERNS_PATH,
  parseChangesResponse,
  parseGenerationsResponse,
  parseListResponse,
  parseLookupResponse,
  type ChangesRequest,
  type ChangesResponse,
  type GenerationsRequest,
  type GenerationsResponse,
  type ListRequest,
  type ListResponse,
  type LookupQuery,
  type LookupRequest,
  type LookupResponse,
} from '../../common/contract/lookup.js';
import type { UpstreamConfig } from '../config.js';
import { Endpoint } from '../http/endpoint.js';
import { signedCall } from '../http/signed-call.js';
import type { RequestSigner } from '../http/signer.js';

export type Listing = 'entries' | 'patterns';

/** The reader function's operations; failures are CallErrors (http/call-error.ts). */
export interface Upstream {
  /** Looks up to 100 queries of one table; an empty list asks only for the generation. */
  lookup(table: string, queries: LookupQuery[], timeoutMs: number, signal?: AbortSignal): Promise<LookupResponse>;
  /** One page of the active generation's entries or pattern entries, after `after`. */
  list(what: Listing, table: string, after: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ListResponse>;
  /** The active generation of several tables in one request; absent: check them one at a time with `lookup(table, [])`. */
  generations?(tables: string[], timeoutMs: number, signal?: AbortSignal): Promise<GenerationsResponse>;
  close(): Promise<void>;
}

export class HttpUpstream implements Upstream {
  readonly endpoint: Endpoint;
  /** Bytes of answer bodies received (what replica transfers cost on the wire). */
  bytesReceived = 0;

  constructor(
    private readonly config: UpstreamConfig,
    signer: RequestSigner,
  ) {
    this.endpoint = new Endpoint({
      url: config.url,
      signer,
      connections: config.connections,
      keepAliveMs: config.keepAliveMs,
      connectTimeoutMs: Math.min(config.deadlineMs, 10_000),
    });
    this.endpoint.onCall((t) => (this.bytesReceived += t.bytes ?? 0));
  }

  lookup(table: string, queries: LookupQuery[], timeoutMs: number, signal?: AbortSignal): Promise<LookupResponse> {
    const request: LookupRequest = { v: CONTRACT_VERSION, table, queries };
    return this.call(LOOKUP_PATH, request, queries.map((q) => q.key), timeoutMs, signal, (json) => parseLookupResponse(json, table, queries.length));
  }

  /** `generation`: a page of that generation while the function keeps it (else HTTP 410 `gone`), not of the active one. */
  list(what: Listing, table: string, after: string | undefined, timeoutMs: number, signal?: AbortSignal, generation?: number): Promise<ListResponse> {
    const request: ListRequest = { v: CONTRACT_VERSION, table, ...(after !== undefined && { after }), ...(generation !== undefined && { generation }) };
    return this.call(what === 'entries' ? ENTRIES_PATH : PATTERNS_PATH, request, after !== undefined ? [after] : [], timeoutMs, signal, (json) => parseListResponse(json, table));
  }

  /** One page of the changes from generation `from` to the active one (`to`: pinned, for the pages after the first); HTTP 410 `gone` when none are kept. */
  changes(table: string, from: number, to: number | undefined, after: string | undefined, timeoutMs: number): Promise<ChangesResponse> {
    const request: ChangesRequest = { v: CONTRACT_VERSION, table, from, ...(to !== undefined && { to }), ...(after !== undefined && { after }) };
    return this.call(CHANGES_PATH, request, after !== undefined ? [after] : [], timeoutMs, undefined, (json) => parseChangesResponse(json, table, from));
  }

  generations(tables: string[], timeoutMs: number, signal?: AbortSignal): Promise<GenerationsResponse> {
    const request: GenerationsRequest = { v: CONTRACT_VERSION, tables };
    return this.call(GENERATIONS_PATH, request, [], timeoutMs, signal, (json) => parseGenerationsResponse(json, tables));
  }

  private call<T>(path: string, request: unknown, secrets: string[], timeoutMs: number, signal: AbortSignal | undefined, parse: (json: unknown) => T): Promise<T> {
    return signedCall(this.endpoint, { path, request, timeoutMs, maxResponseBytes: this.config.maxResponseBytes, parse, secrets, ...(signal && { signal }) });
  }

  /** Resolves once what the first call loads (HTTP library, signer, credential chain) is loaded. */
  async ready(): Promise<void> {
    await Promise.all([this.endpoint.signer.ready(this.endpoint.url), this.endpoint.dispatcher()]);
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
