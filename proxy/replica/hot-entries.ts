// The entries a process asked of one replicated table lately, kept in a
// small map of its own (their answers, ready to hand to a front end) so
// that a hot key costs a Map lookup instead of an LMDB read (which, with
// the key's encoding and the value's decoding, was about half of a replica
// hit's own time). It holds the entries of one
// served state only — the slot, generation, epoch and sync that the
// snapshot's pointer names — and empties itself when that changes, so an
// answer from it is one the store would give from the same snapshot. A
// generational pair of maps bounds it (at most twice `max` entries, each
// under MAX_ENTRY_CHARS) without an LRU's bookkeeping on every hit. A key
// is kept at its second read only (a table of fingerprints remembers the
// first): a scan of many keys, each read once, would otherwise pass them
// all through the maps, and objects that live a little while are what a
// generational collector handles worst (a scan of 200,000 keys left ten
// processes 300 MiB larger).

/** Entries whose key and value together are longer than this are read from the store every time. */
const MAX_ENTRY_CHARS = 1024;

/** What is kept per key: the answer itself (one object per entry, not one per hit), not-found included. */
export class HotEntries<A> {
  private id: string | undefined;
  private recent = new Map<string, A>();
  private older = new Map<string, A>();
  /** Fingerprints of keys read once lately, one slot each by their hash (a collision only costs a read). */
  private readonly seen: Int32Array;

  /** `max`: entries per generation of the map (0: none kept). */
  constructor(private readonly max: number) {
    this.seen = new Int32Array(max === 0 ? 0 : 2 ** Math.ceil(Math.log2(4 * max)));
  }

  /** These entries, for the served state `id`: emptied first if they were another's. */
  of(id: string): this {
    if (id !== this.id) {
      this.id = id;
      this.recent.clear();
      this.older.clear();
    }
    return this;
  }

  /** The answer for `key`, undefined when not held. */
  get(key: string): A | undefined {
    const v = this.recent.get(key);
    if (v !== undefined) return v;
    const old = this.older.get(key);
    // Still asked: it moves to the recent map, so it outlives the older one.
    if (old !== undefined) this.keep(key, old);
    return old;
  }

  /**
   * Offers the answer just read from the store for `key`: kept if `key`
   * was read lately too. `valueChars`: the length of its value (0 for none).
   */
  put(key: string, answer: A, valueChars: number): void {
    if (this.max === 0 || key.length + valueChars > MAX_ENTRY_CHARS || !this.secondRead(key)) return;
    this.keep(key, answer);
  }

  private secondRead(key: string): boolean {
    // FNV-1a, never 0 (an empty slot).
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h |= 1;
    const slot = (h >>> 1) & (this.seen.length - 1);
    if (this.seen[slot] === h) return true;
    this.seen[slot] = h;
    return false;
  }

  private keep(key: string, answer: A): void {
    if (this.recent.size >= this.max) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(key, answer);
  }

  get size(): number {
    return this.recent.size + this.older.size;
  }
}
