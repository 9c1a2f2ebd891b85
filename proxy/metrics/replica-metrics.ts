// The replicas' part of the proxy's Prometheus metrics, per table: served
// from a replica or through the cache, the generation held, its age since the
// function last confirmed it, entries, bytes of its pages, whether this
// process verified it, the last transfer (full or incremental: entries,
// seconds, bytes), and transfers made by this process. Read from
// Replicas.status() when scraped, so the hit path pays nothing.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReplicaStatus } from '../replica/replicas.js';

export const REPLICA_PREFIX = 'cloudtable_replica_';

export interface ReplicaSource {
  status(): ReplicaStatus[];
}

export interface ReplicaMetrics {
  /** Counts a transfer made by this process (the cost benchmark reads it). */
  synced(table: string, kind: 'full' | 'incremental', entries: number, bytes: number): void;
}

export function registerReplicaMetrics(registry: Registry, source: () => ReplicaSource | undefined): ReplicaMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, pick: (s: ReplicaStatus) => number | undefined, extra?: (s: ReplicaStatus) => Record<string, string>): void => {
    new Gauge({
      name: `${REPLICA_PREFIX}${name}`,
      help,
      labelNames: ['table', 'mode', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const s of source()?.status() ?? []) {
          const v = pick(s);
          if (v !== undefined) this.set({ table: s.table, ...extra?.(s) }, v);
        }
      },
    });
  };
  gauge('info', 'Always 1 per table seen: `mode` says whether it is answered from a replica or through the cache', () => 1, (s) => ({ mode: s.mode }));
  gauge('generation', 'The generation the replica holds', (s) => s.generation);
  gauge('entries', 'Entries of the replicated generation', (s) => s.entries);
  gauge('confirmed_age_seconds', 'Time since the function last confirmed the replica\'s generation (any process of the host)', (s) => s.confirmedAgeS);
  gauge('expired', '1 when the replica is past replica.expire_s (answered error until confirmed)', (s) => (s.expired === undefined ? undefined : s.expired ? 1 : 0));
  gauge('bytes', 'Bytes of the pages holding the replicated generation', (s) => s.bytesOnDisk);
  gauge('verified', '1 when this process checked the stored entries against the recorded count and digest', (s) => (s.generation === undefined ? undefined : s.verified ? 1 : 0));
  gauge('last_sync_entries', 'Entries (or changes) of the last transfer', (s) => s.lastSync?.entries, (s) => ({ kind: s.lastSync?.kind ?? '' }));
  gauge('last_sync_seconds', 'Duration of the last transfer', (s) => (s.lastSync ? s.lastSync.ms / 1000 : undefined), (s) => ({ kind: s.lastSync?.kind ?? '' }));
  gauge('last_sync_bytes', 'Bytes received by the last transfer', (s) => s.lastSync?.bytes, (s) => ({ kind: s.lastSync?.kind ?? '' }));
  gauge('last_sync_timestamp_seconds', 'When the last transfer was published', (s) => (s.lastSync ? s.lastSync.at / 1000 : undefined), (s) => ({ kind: s.lastSync?.kind ?? '' }));
  const syncs = new Counter({ name: `${REPLICA_PREFIX}syncs_total`, help: 'Transfers made by this process, by table and kind', labelNames: ['table', 'kind'], registers });
  const entries = new Counter({ name: `${REPLICA_PREFIX}sync_entries_total`, help: 'Entries (or changes) transferred by this process', labelNames: ['table', 'kind'], registers });
  const bytes = new Counter({ name: `${REPLICA_PREFIX}sync_bytes_total`, help: 'Bytes received by this process\'s transfers', labelNames: ['table', 'kind'], registers });
  return {
    synced(table, kind, n, b) {
      syncs.inc({ table, kind });
      entries.inc({ table, kind }, n);
      bytes.inc({ table, kind }, b);
    },
  };
}
