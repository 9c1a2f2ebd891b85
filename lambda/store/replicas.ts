// The other regions' replicas of a global table, as the admin function in
// the home region sees them. DynamoDB global tables (multi-Region eventual
// consistency) replicate item by item, in no guaranteed order, so a region
// could see META name a generation before all of that generation's entries
// have arrived there. Two rules keep every region to generations it holds
// completely (docs/store.md, "Several regions"):
//
//  - before a swap, the new generation is counted in every replica (entries
//    and pattern items) until each holds as many as the home region: a
//    generation's items are only ever put once and never changed, so equal
//    counts mean every item is there. Only then is META written, so any
//    region that sees the new META already holds the whole generation;
//  - before a generation is deleted, no replica's META may still name it
//    (a region lagging longer than the grace period).

import { activeView } from './meta.js';
import type { Store } from './store.js';

export interface Replica {
  region: string;
  /** The same table in that region (the admin function's reads there). */
  store: Store;
}

export interface ReplicaWait {
  /** How long a swap waits for the replicas before giving up (the load can apply again). */
  timeoutMs: number;
  /** Between two counts of a replica still behind. */
  pollMs: number;
}

export const DEFAULT_REPLICA_WAIT: ReplicaWait = { timeoutMs: 20_000, pollMs: 200 };

/** A replica did not hold the generation whole in time. */
export class ReplicaLagError extends Error {
  override name = 'ReplicaLagError';
  constructor(
    readonly region: string,
    readonly held: number,
    readonly expected: number,
  ) {
    super(`region ${region} holds ${held} of the ${expected} items of the new generation; apply again once replication has caught up`);
  }
}

/**
 * Resolves once every replica holds generation `generation` of `table` as
 * completely as the home store; throws ReplicaLagError after `wait.timeoutMs`.
 */
export async function awaitReplicas(home: Store, replicas: readonly Replica[], table: string, generation: number, wait: ReplicaWait = DEFAULT_REPLICA_WAIT): Promise<void> {
  if (replicas.length === 0) return;
  const expected = await home.countGeneration(table, generation, true);
  const deadline = Date.now() + wait.timeoutMs;
  await Promise.all(
    replicas.map(async (r) => {
      for (;;) {
        const held = await r.store.countGeneration(table, generation, false);
        if (held === expected) return;
        if (Date.now() + wait.pollMs > deadline) throw new ReplicaLagError(r.region, held, expected);
        await new Promise((resolve) => setTimeout(resolve, wait.pollMs));
      }
    }),
  );
}

/** The first replica whose META still lets readers reach `generation` (active, kept, or in a transaction), if any. */
export async function replicaStillNaming(replicas: readonly Replica[], table: string, generation: number): Promise<string | undefined> {
  for (const r of replicas) {
    const meta = await r.store.readMetaRecord(table);
    if (!meta) continue;
    const t = meta.txn;
    const named = [meta.generation, activeView(meta, r.store.clock()).generation, meta.previous?.generation, t?.base, t?.shadow];
    if (named.includes(generation)) return r.region;
  }
  return undefined;
}
