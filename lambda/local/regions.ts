// `cloudtable backend --regions N`: the cloud of a multi-region deployment on
// this host. Region 1 (home) is the usual backend — reader and admin
// function over its own engine; each further region is an engine of its
// own with a reader in front (no admin function: writes happen at home),
// filled by the Replicator with random delays and reordering, as DynamoDB
// global tables would. The admin function knows the replicas, as in AWS
// (store/replicas.ts), so its swaps wait for them.

import { ADMIN_LIMITS, ADMIN_PREFIX } from '../../common/contract/admin.js';
import { ContractError } from '../../common/contract/lookup.js';
import { errorResult, type FunctionUrlHandler } from '../function-url.js';
import { createLookupHandler } from '../lookup.js';
import { Store } from '../store/store.js';
import type { Replica } from '../store/replicas.js';
import { LOCAL_TABLE_NAME, startBackend, type Backend, type BackendOptions } from './backend.js';
import { ensureTable, startEngine, type Engine } from './dynalite-engine.js';
import { serveFunctionUrl, type RunningServer } from './http-server.js';
import { Replicator, type ReplicationDelay } from './replicator.js';

export interface RegionsOptions extends Omit<BackendOptions, 'replicas' | 'onEngine'> {
  /** How many regions, home included (at least 2). */
  regions: number;
  /** Each item's replication delay (default 0–1000 ms: "usually within a second"). */
  delay?: ReplicationDelay;
  random?: () => number;
}

export interface LocalRegion {
  /** `local-1` is home. */
  name: string;
  url: string;
  port: number;
  /** The region's store: the home store, or the replica. */
  store: Store;
}

export interface MultiRegionBackend {
  home: Backend;
  /** Every region, home first. */
  regions: LocalRegion[];
  replicator: Replicator;
  close(): Promise<void>;
}

export const DEFAULT_REPLICATION_DELAY: ReplicationDelay = { minMs: 0, maxMs: 1000 };

export async function startRegions(opts: RegionsOptions): Promise<MultiRegionBackend> {
  if (opts.regions < 2) throw new Error('several regions means at least 2');
  const engines: Engine[] = [];
  const readers: RunningServer[] = [];
  let home: Backend | undefined;
  let replicator: Replicator | undefined;
  const close = async (): Promise<void> => {
    await replicator?.close();
    await home?.close();
    for (const r of readers) await r.close();
    for (const e of engines) await e.close();
  };
  try {
    const replicas: Array<Replica & { engine: Engine }> = [];
    for (let i = 2; i <= opts.regions; i++) {
      const engine = await startEngine();
      engines.push(engine);
      await ensureTable(engine.client, LOCAL_TABLE_NAME);
      replicas.push({ region: `local-${i}`, engine, store: new Store(engine.client, LOCAL_TABLE_NAME, {}, opts.clock) });
    }
    const { regions: _n, delay, random, ...backendOpts } = opts;
    home = await startBackend({
      ...backendOpts,
      replicas,
      onEngine: (engine) => {
        replicator = new Replicator({
          tableName: LOCAL_TABLE_NAME,
          homeEndpoint: engine.endpoint,
          targets: replicas.map((r) => ({ region: r.region, client: r.engine.client })),
          delay: delay ?? DEFAULT_REPLICATION_DELAY,
          ...(random && { random }),
          ...(opts.onError && { onError: opts.onError }),
        });
        replicator.watch(engine.client);
      },
    });
    const regions: LocalRegion[] = [{ name: 'local-1', url: home.url, port: home.port, store: home.store }];
    for (const [i, r] of replicas.entries()) {
      const http = await serveFunctionUrl({
        mounts: [
          { prefix: '/', handler: createLookupHandler(r.store, { ...(opts.readAccess && { access: opts.readAccess }) }) },
          // Present so that a misdirected `cloudtable load` is told why, as a missing function would be in AWS.
          { prefix: ADMIN_PREFIX, handler: noAdminHere(r.region), maxBodyBytes: ADMIN_LIMITS.maxBodyBytes },
        ],
        credentials: opts.credentials,
        ...(opts.identities && { identities: opts.identities }),
        ...(opts.region && { region: opts.region }),
        host: opts.host ?? '127.0.0.1',
        port: opts.port ? opts.port + i + 1 : 0,
        ...(opts.onError && { onError: opts.onError }),
      });
      readers.push(http);
      regions.push({ name: r.region, url: http.url, port: http.port, store: r.store });
    }
    return { home, regions, replicator: replicator!, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function noAdminHere(region: string): FunctionUrlHandler {
  return () => Promise.resolve(errorResult(new ContractError(404, 'no-route', `region ${region} has no admin function: load through the home region`)));
}
