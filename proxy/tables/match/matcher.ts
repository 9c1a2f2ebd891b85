// The interface of one kind of smtpd matching, which the pattern tables use.

import type { Listing } from '../../upstream/client.js';
import type { EntrySet } from '../entry-sets.js';

/** The index of the first entry of a set that matches, -1 for none, or why smtpd's answer cannot be told. */
export type SetMatch = number | { undecidable: string };

/**
 * One kind of smtpd matching (like OpenSMTPD's keycmp table in
 * table_static.c). A lookup key is matched against two kinds of entries:
 * exact keys derived from the lookup key and fetched together, and the
 * table's per-generation set, matched here. The lookup key is folded.
 */
export interface Matcher {
  readonly name: string;
  /** Which per-generation set the matcher needs. */
  readonly listing: Listing;
  /** Folded keys of the entries that can match `key` and are not in the set. */
  candidates(key: string): string[];
  /** smtpd's predicate, for a candidate found in the table. */
  matches(key: string, entryKey: string): boolean;
  /** The first entry of the set, in key order, that matches `key`. */
  firstInSet(set: EntrySet, key: string): SetMatch;
}
