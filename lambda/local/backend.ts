// `cloudtable backend`: the cloud function served on this host over real
// HTTP, on embedded DynamoDB. The same handler code that Lambda runs.

import { createLookupHandler } from '../lookup.js';
import { Store } from '../store/store.js';
import { ensureTable, startEngine, type Engine } from './dynalite-engine.js';
import { serveFunctionUrl, type Mount, type RunningServer } from './http-server.js';
import type { LocalCredentials } from './sigv4-verify.js';

export const LOCAL_TABLE_NAME = 'cloudtable';

export interface BackendOptions {
  credentials: LocalCredentials;
  host?: string;
  port?: number;
  dataDir?: string;
  onError?: (err: unknown) => void;
  /** Extra handlers (the admin API) mounted beside the reader. */
  extraMounts?: (store: Store) => Mount[];
}

export interface Backend {
  url: string;
  port: number;
  store: Store;
  engine: Engine;
  http: RunningServer;
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const engine = await startEngine({ ...(opts.dataDir !== undefined && { dataDir: opts.dataDir }) });
  try {
    await ensureTable(engine.client, LOCAL_TABLE_NAME);
    const store = new Store(engine.client, LOCAL_TABLE_NAME);
    const http = await serveFunctionUrl({
      mounts: [{ prefix: '/', handler: createLookupHandler(store) }, ...(opts.extraMounts?.(store) ?? [])],
      credentials: opts.credentials,
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      ...(opts.onError && { onError: opts.onError }),
    });
    return {
      url: http.url,
      port: http.port,
      store,
      engine,
      http,
      close: async () => {
        await http.close();
        await engine.close();
      },
    };
  } catch (err) {
    await engine.close();
    throw err;
  }
}
