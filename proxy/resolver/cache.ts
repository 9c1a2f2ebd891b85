// The answer cache: one LRU for the process, bounded by entries and bytes;
// entries carry their generation and their fresh and stale times.

import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import type { CacheConfig } from '../config.js';

export interface CacheEntry {
  /** undefined: the key is known to be absent (a negative entry). */
  value: string | undefined;
  generation: number;
  freshUntil: number;
  /** Until then the entry may be served if the function fails. */
  staleUntil: number;
}

/** Per-entry bookkeeping of lru-cache and this object, beyond key and value bytes. */
const ENTRY_OVERHEAD = 96;

/**
 * The answer cache: an LRU bounded by entries and bytes. Freshness is kept in
 * the entry rather than in lru-cache's TTL so that an expired entry stays
 * available for the stale-if-error window and the hit path is one get().
 */
export class AnswerCache {
  private readonly lru: LRUCache<string, CacheEntry>;

  constructor(
    readonly config: CacheConfig,
    clock: Clock = systemClock,
  ) {
    this.lru = new LRUCache<string, CacheEntry>({
      // Entries carry the resolver's times; lru-cache's own bookkeeping follows the same clock.
      perf: { now: () => clock.monotonic() },
      max: config.maxEntries,
      maxSize: config.maxBytes,
      // JS strings are UTF-16: two bytes a code unit.
      sizeCalculation: (e, k) => ENTRY_OVERHEAD + 2 * (k.length + (e.value?.length ?? 0)),
    });
  }

  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  set(key: string, entry: CacheEntry): void {
    this.lru.set(key, entry);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
