// `cloudtable backend`: the cloud functions served on this host over real
// HTTP, on embedded DynamoDB: the reader at /v1/lookup, the admin function
// under /v1/admin/. The same handler code that Lambda runs, metered as AWS
// would bill it (billing.ts; the counts at GET /local/billing, signed).

import { ADMIN_LIMITS, ADMIN_PREFIX } from '../../common/contract/admin.js';
import { createAdmin, type Admin, type AdminLogger } from '../admin/handler.js';
import { ContractError } from '../../common/contract/lookup.js';
import { errorResult, json, type FunctionUrlHandler } from '../function-url.js';
import { createLookupHandler } from '../lookup.js';
import type { Replica, ReplicaWait } from '../store/replicas.js';
import { Store, type Clock } from '../store/store.js';
import type { TransactionLimits } from '../store/transaction.js';
import { BillingMeter } from './billing.js';
import { ensureTable, startEngine, type Engine } from './dynalite-engine.js';
import { serveFunctionUrl, type Mount, type RunningServer } from './http-server.js';
import type { ReadAccess } from '../read-access.js';
import type { LocalCredentials, LocalIdentity } from './sigv4-verify.js';

export const LOCAL_TABLE_NAME = 'cloudtable';

/** GET: the billing meter's counts and their cost (JSON); POST …/reset: start counting afresh. Signed like every request. */
export const BILLING_PATH = '/local/billing';

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
  /** What AWS would bill for the requests served so far. */
  meter: BillingMeter;
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const engine = await startEngine({ ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }) });
  try {
    await ensureTable(engine.client, LOCAL_TABLE_NAME);
    opts.onEngine?.(engine);
    const meter = new BillingMeter();
    meter.instrument(engine.client);
    const store = new Store(engine.client, LOCAL_TABLE_NAME, {}, opts.clock);
    const admin = createAdmin(store, {
      ...(opts.limits && { limits: opts.limits }),
      log: opts.adminLog ?? quietAdminLog(opts.onError),
      ...(opts.replicas && { replicas: opts.replicas }),
      ...(opts.replicaWait && { replicaWait: opts.replicaWait }),
    });
    const http = await serveFunctionUrl({
      mounts: [
        { prefix: '/', handler: meter.wrap('reader', createLookupHandler(store, { ...(opts.readAccess && { access: opts.readAccess }) })) },
        { prefix: ADMIN_PREFIX, handler: meter.wrap('admin', admin.handler), maxBodyBytes: ADMIN_LIMITS.maxBodyBytes },
        { prefix: BILLING_PATH, handler: billingHandler(meter) },
        ...(opts.extraMounts?.(store) ?? []),
      ],
      credentials: opts.credentials,
      ...(opts.identities && { identities: opts.identities }),
      ...(opts.region && { region: opts.region }),
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      ...(opts.onError && { onError: opts.onError }),
    });
    const everyMs = opts.collectEveryMs ?? COLLECT_EVERY_MS;
    // Each run is an invocation of the admin function by its schedule.
    const stopCollecting = collectInBackground(() => meter.invoke('admin', 'scheduled-gc', () => admin.collect(everyMs)), everyMs, opts.onError);
    return {
      url: http.url,
      port: http.port,
      store,
      admin,
      engine,
      http,
      meter,
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

/** Runs `collect` every `everyMs`, one at a time; returns a stop function that waits for a run in progress. */
function collectInBackground(collect: () => Promise<unknown>, everyMs: number, onError?: (err: unknown) => void): () => Promise<void> {
  if (everyMs <= 0) return () => Promise.resolve();
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = collect()
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

/** The billing meter's signed debug endpoint (not metered: AWS has no such function). */
function billingHandler(meter: BillingMeter): FunctionUrlHandler {
  return (event) => {
    const method = event.requestContext.http.method;
    if (event.rawPath === BILLING_PATH && method === 'GET') return Promise.resolve(json(200, meter.snapshot()));
    if (event.rawPath === `${BILLING_PATH}/reset` && method === 'POST') {
      meter.reset();
      return Promise.resolve(json(200, meter.snapshot()));
    }
    return Promise.resolve(errorResult(new ContractError(404, 'no-route', `GET ${BILLING_PATH} or POST ${BILLING_PATH}/reset`)));
  };
}
