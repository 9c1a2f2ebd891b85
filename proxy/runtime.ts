// Wires one proxy process: the function client, the resolver, the table
// services, the health checks and the host's replicas that every front end
// shares. The replica store opens once the front end is up (deferred.ts).

import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { AuthChecker } from './auth/auth-checker.js';
import type { Config } from './config.js';
import { TableHealth } from './health/table-health.js';
import type { Logger } from './log.js';
import type { ProxyMetrics } from './metrics/proxy-metrics.js';
import { DeferredReplicas, waitingForReplicas } from './replica/deferred.js';
import type { Replicas } from './replica/replicas.js';
import { replicaSettings } from './replica/settings.js';
import { Resolver } from './resolver/resolver.js';
import { EntrySets } from './tables/entry-sets.js';
import { SmtpdTables } from './tables/smtpd-tables.js';
import type { TableService } from './tables/table-service.js';
import { createHedgedUpstream, homeReader } from './upstream/create.js';
import type { HttpUpstream } from './upstream/client.js';

/** The shared lookup stack of one proxy process: upstream client, resolver, table services. */
export interface Runtime {
  resolver: Resolver;
  tables: TableService;
  /** End-to-end checks of a table (the socketmap health map). */
  health: TableHealth;
  /** Tables answered from the host's replica store, once it is open; undefined when replicas are off (replica.tables = "none"). */
  replicas: DeferredReplicas | undefined;
  /** The front end is up (smtpd's handshake answered, sockmap listening): what was left for later may start (the replica store). */
  frontEndUp(): void;
  close(): Promise<void>;
}

/** Largest pattern set or listing held per table generation. */
const MAX_SET_ENTRIES = 100_000;
/** `auth` verdicts remembered (under keyed hashes). */
const MAX_AUTH_VERDICTS = 10_000;

/**
 * Credentials come from the standard AWS provider chain unless given
 * (in-process use: demo, tests). `metrics` belong to the process: a runtime
 * rebuilt on reload reports to the same ones.
 */
export function createRuntime(config: Config, log: Logger, credentials?: AwsCredentialIdentityProvider, metrics?: ProxyMetrics): Runtime {
  const upstream = createHedgedUpstream(config, credentials);
  const resolver = new Resolver(config, upstream, log, metrics);
  const deadlineMs = config.upstream.deadlineMs;
  const sets = new EntrySets(resolver, upstream, { deadlineMs, ttlMs: config.cache.ttlMs, maxEntries: MAX_SET_ENTRIES });
  // Replica transfers (listings by generation, changes) go to the home endpoint's plain client.
  const reader = homeReader(config, credentials);
  const settings = replicaSettings(config);
  const replicas = settings.any ? new DeferredReplicas(config, settings, () => openReplicas(config, reader, resolver, log, metrics)) : undefined;
  metrics?.watch(resolver, reader.endpoint.url.origin, replicas, upstream);
  if (replicas) {
    resolver.answerLocally(replicas);
    sets.answerLocally(replicas);
  }
  const auth = new AuthChecker(resolver, log, { deadlineMs, ttlMs: config.cache.ttlMs, maxVerdicts: MAX_AUTH_VERDICTS });
  const smtpdTables = new SmtpdTables({
    resolver,
    sets,
    log,
    deadlineMs,
    subaddressDelimiter: config.smtpd.subaddressingDelimiter,
    auth: (table, key) => auth.check(table, key),
    onUpdate: async (table) => {
      auth.clear();
      await replicas?.update(table);
    },
  });
  const tables = replicas ? waitingForReplicas(smtpdTables, replicas) : smtpdTables;
  const health = new TableHealth(resolver, deadlineMs);
  return {
    resolver,
    tables,
    health,
    replicas,
    frontEndUp: () => replicas?.frontEndUp(),
    close: async () => {
      await replicas?.close();
      await resolver.close();
      await reader.close();
    },
  };
}

/** The replica store (lmdb loaded now); a store that cannot be opened is logged and the cache path serves every table. */
async function openReplicas(config: Config, upstream: HttpUpstream, resolver: Resolver, log: Logger, metrics: ProxyMetrics | undefined): Promise<Replicas | undefined> {
  try {
    const { Replicas } = await import('./replica/replicas.js');
    return new Replicas(config, upstream, (tables) => resolver.generationsOf(tables), log, metrics, MAX_SET_ENTRIES);
  } catch (err) {
    log.error({ dir: replicaSettings(config).dir, err: (err as Error).message }, 'replica store cannot be opened: every table is served through the cache');
    return undefined;
  }
}
