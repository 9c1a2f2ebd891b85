// Where the host's replica store lives and which tables it may hold, read
// from the configuration and the environment. Apart from the store itself
// (store.ts) so that deciding whether to open it does not load lmdb.

import { join } from 'node:path';
import type { Config, ReplicaTables } from '../config.js';

/** Where replicas live when replica.dir is not set. */
export const DEFAULT_REPLICA_DIR = '/var/lib/cloudtable';

/** The store's one file in replica.dir (LMDB's lock file sits beside it). */
export const STORE_FILE = 'replicas.mdb';

export function storePath(dir: string): string {
  return join(dir, STORE_FILE);
}

/**
 * replica.dir and replica.tables with their defaults: the environment
 * (CLOUDTABLE_REPLICA_DIR, CLOUDTABLE_REPLICA_TABLES: `auto`, `none` or
 * names separated by commas) when the file says nothing, so `npm start` and
 * test suites can keep their own.
 */
export function replicaSettings(config: Config): { dir: string; tables: ReplicaTables; any: boolean } {
  const env = process.env.CLOUDTABLE_REPLICA_TABLES;
  const fromEnv: ReplicaTables | undefined = env === undefined || env === '' ? undefined : env === 'auto' || env === 'none' ? env : env.split(',').map((t) => t.trim());
  const tables = config.replica.tables ?? fromEnv ?? 'auto';
  const dir = config.replica.dir ?? (process.env.CLOUDTABLE_REPLICA_DIR || DEFAULT_REPLICA_DIR);
  const any = tables !== 'none' || Object.values(config.tables).some((t) => t.replica === true);
  return { dir, tables, any };
}

/** Whether `table` is replicated here when small enough: [tables.NAME] replica, else replica.tables (auto or a list naming it). */
export function replicationWanted(config: Config, tables: ReplicaTables, table: string): boolean {
  return config.tables[table]?.replica ?? (tables === 'auto' || (Array.isArray(tables) && tables.includes(table)));
}
