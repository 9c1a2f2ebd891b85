// The client of the admin function, for `cloudtable load`, `show`,
// `rollback` and `status`: one method per operation of the admin contract,
// each a SigV4-signed JSON call (http/signed-call.ts). Failures are
// CallErrors; a refusal keeps the function's error code (`functionCode`), so
// the caller can tell a busy table from a lost lease.

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
import type { AdminConfig } from '../config.js';
import { CallError } from '../http/call-error.js';
import { Endpoint } from '../http/endpoint.js';
import { signedCall } from '../http/signed-call.js';
import { RequestSigner } from '../http/signer.js';

export interface AdminClientOptions {
  url: string;
  signer: RequestSigner;
  timeoutMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class AdminClient {
  readonly endpoint: Endpoint;

  constructor(private readonly o: AdminClientOptions) {
    this.endpoint = new Endpoint({ url: o.url, signer: o.signer, connections: 4, connectTimeoutMs: Math.min(o.timeoutMs, 10_000) });
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
    return this.endpoint.close();
  }

  private call<T>(op: AdminOp, request: object): Promise<T> {
    return signedCall(this.endpoint, {
      path: adminPath(op),
      request: { v: ADMIN_CONTRACT_VERSION, ...request },
      timeoutMs: this.o.timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      label: op,
      parse: (json) => {
        if (!isRecord(json) || json.v !== ADMIN_CONTRACT_VERSION) {
          throw new Error(`the admin function answered contract version ${isRecord(json) ? String(json.v) : '?'}, expected ${ADMIN_CONTRACT_VERSION}`);
        }
        return json as T;
      },
    });
  }
}

/** The admin client for a configuration: its URL, its region, credentials from the standard AWS chain. */
export function adminClientFor(config: AdminConfig): AdminClient {
  return new AdminClient({ url: config.url, signer: new RequestSigner(config.region), timeoutMs: config.timeoutMs });
}
