// Per-generation sets of table entries, fetched once and matched locally:
// the pattern entries of a table (globs, prefixes) for domain, mailaddr and
// netaddr lookups, or all of its entries for regex lookups and fetch
// rotation. A set is used only while it is of the newest generation known
// of the table (the rule of resolver/generation.ts), and is revalidated after the positive TTL, so
// pattern answers are exactly as fresh as exact ones.

import { compareBytes, foldKey } from '../../common/smtpd/index.js';
import type { Resolver } from '../resolver/resolver.js';
import type { Listing, Upstream } from '../upstream/client.js';

export interface Entry {
  /** Folded as smtpd folds table keys. */
  key: string;
  value: string;
}

/** Attempts at a listing whose pages all come from one generation. */
const LISTING_ATTEMPTS = 3;
/** Results remembered per set before the memo starts over. */
const MEMO_MAX = 10_000;

export class EntrySet {
  private readonly derivedForms = new Map<string, unknown>();
  private readonly memo = new Map<string, unknown>();

  constructor(
    readonly generation: number,
    /** In strcmp order of the folded keys: the order smtpd's static tables try entries in. */
    readonly entries: readonly Entry[],
    public checkedAt: number,
  ) {}

  /** A form of the entries built once per generation for one kind of matching (parsed prefixes, compiled regexes). */
  derived<T>(name: string, build: (entries: readonly Entry[]) => T): T {
    let d = this.derivedForms.get(name) as T | undefined;
    if (d === undefined) {
      d = build(this.entries);
      this.derivedForms.set(name, d);
    }
    return d;
  }

  /** Remembers the outcome of matching one lookup key against this generation. */
  remember<T>(id: string, compute: () => T): T {
    if (this.memo.has(id)) return this.memo.get(id) as T;
    const v = compute();
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(id, v);
    return v;
  }
}

export interface EntrySetOptions {
  deadlineMs: number;
  ttlMs: number;
  /** Largest set held: a bigger listing is an error, not an unbounded download. */
  maxEntries: number;
}

/** Sets of tables held on this host (proxy/replica/), of the generation answered from there. */
export interface LocalSets {
  set(table: string, what: Listing): EntrySet | undefined;
}

/** Fetches and revalidates the sets each table handle holds (TableHandle.sets). */
export class EntrySets {
  /** Listings under way, one per table and kind: concurrent callers share it. */
  private readonly loading = new Map<string, Promise<EntrySet>>();
  private local: LocalSets | undefined;

  constructor(
    private readonly resolver: Resolver,
    private readonly upstream: Upstream,
    private readonly options: EntrySetOptions,
  ) {}

  /** The set, when it is known to be of the table's current generation and was checked within the TTL. */
  current(table: string, what: Listing): EntrySet | undefined {
    const local = this.local?.set(table, what);
    if (local !== undefined) return local;
    const h = this.resolver.handles.get(table);
    const set = h?.sets.get(what);
    if (set === undefined || !h!.serves(set.generation) || this.resolver.clock.now() - set.checkedAt > this.options.ttlMs) return undefined;
    return set;
  }

  /** The current set, fetched or revalidated when needed (one request at a time per set). Rejects when it cannot be had. */
  get(table: string, what: Listing): EntrySet | Promise<EntrySet> {
    const set = this.current(table, what);
    if (set) return set;
    const key = id(table, what);
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(table, what).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  clear(): void {
    for (const h of this.resolver.handles) h.sets.clear();
  }

  /** Takes sets from `local` whenever it has them (a table answered from its replica has every set from there). */
  answerLocally(local: LocalSets): void {
    this.local = local;
  }

  private async load(table: string, what: Listing): Promise<EntrySet> {
    const old = this.resolver.handles.get(table)?.sets.get(what);
    if (old && this.resolver.serves(table, old.generation)) {
      // Only the TTL ran out: a generation-only request tells whether the set still holds.
      await this.resolver.observed(table, () => this.upstream.lookup(table, [], this.options.deadlineMs));
      if (this.resolver.serves(table, old.generation)) {
        old.checkedAt = this.resolver.clock.now();
        return old;
      }
    }
    const set = await this.list(table, what);
    // The listing opened the handle if it was not yet: the function has answered for the table.
    this.resolver.handles.get(table)?.sets.set(what, set);
    return set;
  }

  private async list(table: string, what: Listing): Promise<EntrySet> {
    for (let attempt = 0; attempt < LISTING_ATTEMPTS; attempt++) {
      const byKey = new Map<string, string>();
      let generation: number | undefined;
      let after: string | undefined;
      let consistent = true;
      do {
        const page = await this.resolver.observed(table, () => this.upstream.list(what, table, after, this.options.deadlineMs));
        if (generation !== undefined && page.generation !== generation) {
          consistent = false;
          break;
        }
        generation = page.generation;
        for (const e of page.entries) byKey.set(foldKey(e.key), e.value);
        if (byKey.size > this.options.maxEntries) throw new Error(`table ${table} has more than ${this.options.maxEntries} ${what} to match locally`);
        after = page.next;
      } while (after !== undefined);
      // A listing read from a generation older than the newest known (a lagging request) is never used.
      if (!consistent || generation === undefined || !this.resolver.serves(table, generation)) continue;
      const entries = [...byKey].map(([k, value]) => ({ key: k, value })).sort((a, b) => compareBytes(a.key, b.key));
      return new EntrySet(generation, entries, this.resolver.clock.now());
    }
    throw new Error(`table ${table} changed generation during ${LISTING_ATTEMPTS} listings in a row, or answered from an older one`);
  }
}

function id(table: string, what: Listing): string {
  return `${what}\0${table}`;
}
