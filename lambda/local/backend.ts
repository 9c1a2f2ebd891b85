// `cloudtable backend`: the cloud functions served on this host over real
// HTTP, on embedded DynamoDB: the reader at /v1/lookup, the admin function
// under /v1/admin/. The same handler code that Lambda runs.

import { ADMIN_LIMITS, ADMIN_PREFIX } from '../../common/contract/admin.js';
import { createAdmin, type Admin, type AdminLogger } from '../admin/handler.js';
import { createLookupHandler } from '../lookup.js';
import type { Replica, ReplicaWait } from '../store/replicas.js';
import { Store, type Clock } from '../store/store.js';
import type { TransactionLimits } from '../store/transaction.js';
import { ensureTable, startEngine, type Engine } from './dynalite-engine.js';
import { serveFunctionUrl, type Mount, type RunningServer } from './http-server.js';
import type { ReadAccess } from '../read-access.js';
import type { LocalCredentials, LocalIdentity } from './sigv4-verify.js';

export const LOCAL_TABLE_NAME = 'cloudtable';

/** How often the local backend collects old generations (a schedule does it in AWS). */
const COLLECT_EVERY_MS = 5000;

export interface BackendOptions {
  credentials: LocalCredentials;
  /** Further key pairs, each signing as its principal (for per-table read access). */
  identities?: LocalIdentity[];
  /** The reader's per-table read access, as CLOUDTABLE_READ_ACCESS gives it in AWS. */
  readAccess?: ReadAccess;
  /** The region signatures must be scoped to (default us-east-1). */
  region?: string;
  host?: string;
  port?: number;
  dataDir?: string;
  onError?: (err: unknown) => void;
  /** Extra handlers mounted beside the reader and the admin function. */
  extraMounts?: (store: Store) => Mount[];
  /** The time leases and garbage are judged by; tests move it forward. */
  clock?: Clock;
  /** Transaction limits of the admin function (lease, grace, kept previous generation…). */
  limits?: Partial<TransactionLimits>;
  /** Collect old generations in the background every so often (ms; 0: only when asked, POST /v1/admin/gc). */
  collectEveryMs?: number;
  adminLog?: AdminLogger;
  /** Other regions' replicas the admin function waits for and spares (regions.ts). */
  replicas?: Replica[];
  replicaWait?: ReplicaWait;
  /** Called with the engine's client before anything is written (regions.ts intercepts writes there). */
  onEngine?: (engine: Engine) => void;
}

export interface Backend {
  url: string;
  port: number;
  store: Store;
  admin: Admin;
  engine: Engine;
  http: RunningServer;
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const engine = await startEngine({ ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }) });
  try {
    await ensureTable(engine.client, LOCAL_TABLE_NAME);
    opts.onEngine?.(engine);
    const store = new Store(engine.client, LOCAL_TABLE_NAME, {}, opts.clock);
    const admin = createAdmin(store, {
      ...(opts.limits && { limits: opts.limits }),
      log: opts.adminLog ?? quietAdminLog(opts.onError),
      ...(opts.replicas && { replicas: opts.replicas }),
      ...(opts.replicaWait && { replicaWait: opts.replicaWait }),
    });
    const http = await serveFunctionUrl({
      mounts: [
        { prefix: '/', handler: createLookupHandler(store, { ...(opts.readAccess && { access: opts.readAccess }) }) },
        { prefix: ADMIN_PREFIX, handler: admin.handler, maxBodyBytes: ADMIN_LIMITS.maxBodyBytes },
        ...(opts.extraMounts?.(store) ?? []),
      ],
      credentials: opts.credentials,
      ...(opts.identities && { identities: opts.identities }),
      ...(opts.region && { region: opts.region }),
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      ...(opts.onError && { onError: opts.onError }),
    });
    const stopCollecting = collectInBackground(admin, opts.collectEveryMs ?? COLLECT_EVERY_MS, opts.onError);
    return {
      url: http.url,
      port: http.port,
      store,
      admin,
      engine,
      http,
      close: async () => {
        await stopCollecting();
        await http.close();
        await engine.close();
      },
    };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/** Runs admin.collect every `everyMs`, one at a time; returns a stop function that waits for a run in progress. */
function collectInBackground(admin: Admin, everyMs: number, onError?: (err: unknown) => void): () => Promise<void> {
  if (everyMs <= 0) return () => Promise.resolve();
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = admin
      .collect(everyMs)
      .catch((err: unknown) => onError?.(err))
      .finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** The admin function logs JSON lines in Lambda; locally only failures matter, through onError. */
function quietAdminLog(onError?: (err: unknown) => void): AdminLogger {
  return { info: () => {}, error: (obj, msg) => onError?.(new Error(`${msg}: ${JSON.stringify(obj)}`)) };
}
