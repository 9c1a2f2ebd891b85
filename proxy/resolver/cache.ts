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
 * lru-cache allocates its index for `max` entries at once (3 MiB for
 * 100,000): it is made at the first entry, so a table process that is never
 * asked anything does not hold it.
 */
export class AnswerCache {
  private lru: LRUCache<string, CacheEntry> | undefined;

  constructor(
    readonly config: CacheConfig,
    private readonly clock: Clock = systemClock,
  ) {}

  get(key: string): CacheEntry | undefined {
    return this.lru?.get(key);
  }

  set(key: string, entry: CacheEntry): void {
    (this.lru ??= this.make()).set(key, entry);
  }

  delete(key: string): void {
    this.lru?.delete(key);
  }

  clear(): void {
    this.lru?.clear();
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  private make(): LRUCache<string, CacheEntry> {
    return new LRUCache<string, CacheEntry>({
      max: this.config.maxEntries,
      maxSize: this.config.maxBytes,
      // Entries carry the resolver's times; lru-cache's own bookkeeping follows the same clock.
      perf: { now: () => this.clock.monotonic() },
      // JS strings are UTF-16: two bytes a code unit.
      sizeCalculation: (e, k) => ENTRY_OVERHEAD + 2 * (k.length + (e.value?.length ?? 0)),
    });
  }
}
