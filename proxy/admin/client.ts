// The HTTP client of the admin function, for `cloudtable load`, `show`,
// `rollback` and `status`: SigV4-signed JSON requests, one method per
// operation of the admin contract. A refusal keeps the function's error
// code, so the caller can tell a busy table from a lost lease.

import { Pool } from 'undici';
import {
  ADMIN_CONTRACT_VERSION,
  adminPath,
  type AdminOp,
  type ApplyResponse,
  type BeginRequest,
  type BeginResponse,
  type CommitResponse,
  type EntryProblem,
  type GcResponse,
  type HelloResponse,
  type ListRequest,
  type ListResponse,
  type RenewResponse,
  type RollbackResponse,
  type SendEntry,
  type SendResponse,
  type StatusResponse,
  type UndoRequest,
  type UndoResponse,
  type ValidateResponse,
} from '../../common/contract/admin.js';
import { isRecord } from '../../common/contract/lookup.js';
import { describe, readLimited } from '../upstream/client.js';
import type { AdminConfig } from '../config.js';
import { RequestSigner } from '../upstream/signer.js';

export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    /** The function's error code (`busy`, `lease-expired`…), or `network`, `timeout`, `protocol`. */
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface AdminClientOptions {
  url: string;
  signer: RequestSigner;
  timeoutMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class AdminClient {
  private readonly pool: Pool;
  private readonly url: URL;

  constructor(private readonly o: AdminClientOptions) {
    this.url = new URL(o.url);
    this.pool = new Pool(this.url.origin, { connections: 4, connect: { timeout: Math.min(o.timeoutMs, 10_000) } });
  }

  hello(): Promise<HelloResponse> {
    return this.call('hello', {});
  }

  status(): Promise<StatusResponse> {
    return this.call('status', {});
  }

  list(r: ListRequest): Promise<ListResponse> {
    return this.call('list', r);
  }

  begin(r: BeginRequest): Promise<BeginResponse> {
    return this.call('begin', r);
  }

  renew(table: string, txn: string): Promise<RenewResponse> {
    return this.call('renew', { table, txn });
  }

  send(table: string, txn: string, entries: SendEntry[], refused: EntryProblem[] = []): Promise<SendResponse> {
    return this.call('send', { table, txn, entries, ...(refused.length > 0 && { refused }) });
  }

  validate(table: string, txn: string, total: number): Promise<ValidateResponse> {
    return this.call('validate', { table, txn, total });
  }

  apply(table: string, txn: string): Promise<ApplyResponse> {
    return this.call('apply', { table, txn });
  }

  commit(table: string, txn: string): Promise<CommitResponse> {
    return this.call('commit', { table, txn });
  }

  rollback(table: string, txn: string): Promise<RollbackResponse> {
    return this.call('rollback', { table, txn });
  }

  undo(r: UndoRequest): Promise<UndoResponse> {
    return this.call('undo', r);
  }

  gc(budgetMs?: number): Promise<GcResponse> {
    return this.call('gc', budgetMs === undefined ? {} : { budgetMs });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }

  private async call<T>(op: AdminOp, request: object): Promise<T> {
    const path = adminPath(op);
    const body = JSON.stringify({ v: ADMIN_CONTRACT_VERSION, ...request });
    let headers: Record<string, string>;
    try {
      headers = await this.o.signer.sign({ method: 'POST', url: this.url, path, body, headers: { 'content-type': 'application/json' } });
    } catch (err) {
      throw new AdminError('credentials', `cannot sign the request to ${this.url.origin}: ${describe(err)}`);
    }
    const signal = AbortSignal.timeout(this.o.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({ method: 'POST', path, headers, body, signal, headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs });
      status = res.statusCode;
      text = await readLimited(res.body, MAX_RESPONSE_BYTES);
    } catch (err) {
      if (signal.aborted) throw new AdminError('timeout', `${op}: no answer from ${this.url.origin} within ${this.o.timeoutMs} ms`);
      throw new AdminError('network', `${op}: ${this.url.origin}: ${describe(err)}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AdminError('protocol', `${op}: HTTP ${status} with a body that is not JSON`, status);
    }
    if (status !== 200) {
      const code = isRecord(json) && typeof json.error === 'string' ? json.error : 'http';
      const message = isRecord(json) && typeof json.message === 'string' ? json.message : `HTTP ${status}`;
      throw new AdminError(code, message, status);
    }
    if (!isRecord(json) || json.v !== ADMIN_CONTRACT_VERSION) {
      throw new AdminError('protocol', `${op}: the admin function answered contract version ${isRecord(json) ? String(json.v) : '?'}, expected ${ADMIN_CONTRACT_VERSION}`);
    }
    return json as T;
  }
}

/** The admin client for a configuration: its URL, its region, credentials from the standard AWS chain. */
export function adminClientFor(config: AdminConfig): AdminClient {
  return new AdminClient({ url: config.url, signer: new RequestSigner(config.region), timeoutMs: config.timeoutMs });
}
