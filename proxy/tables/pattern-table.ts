// Lookups that need smtpd's matching: the exact keys a matcher derives from
// the lookup key, fetched together through the resolver (one batch), plus
// the table generation's set, matched locally. The answer is the first
// matching entry in key order, which is the entry smtpd's static table
// would pick, since it walks its entries in strcmp order.

import type { Service } from '../../common/contract/lookup.js';
import { compareBytes, foldKey } from '../../common/smtpd/index.js';
import { withDeadline } from '../resolver/with-deadline.js';
import type { Answer } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntrySet, EntrySets } from './entry-sets.js';
import type { Matcher, SetMatch } from './match/matcher.js';

/** Rounds of (exact keys, set) when the generation moves between the two. */
const ROUNDS = 3;

export class PatternTable {
  constructor(
    private readonly resolver: Resolver,
    private readonly sets: EntrySets,
    private readonly deadlineMs: number,
  ) {}

  lookup(table: string, service: Service, matcher: Matcher, rawKey: string): Answer | Promise<Answer> {
    const key = foldKey(rawKey);
    const candidates = matcher.candidates(key);
    const set = this.sets.current(table, matcher.listing);
    if (set) {
      const hits: Answer[] = [];
      for (const c of candidates) {
        const a = this.resolver.lookupCached(table, service, c);
        // An error (an expired replica) is no match: the slow path answers it.
        if (!a || a.kind === 'error') break;
        hits.push(a);
      }
      if (hits.length === candidates.length) return this.combine(set, matcher, key, candidates, hits, 'cache');
    }
    return withDeadline(this.slow(table, service, matcher, key, candidates), this.deadlineMs);
  }

  private async slow(table: string, service: Service, matcher: Matcher, key: string, candidates: string[]): Promise<Answer> {
    for (let round = 0; round < ROUNDS; round++) {
      // Every miss is enqueued in this same turn, so the batcher sends them as one request.
      const answers = await Promise.all(candidates.map((c) => this.resolver.lookup(table, service, c)));
      const failed = answers.find((a) => a.kind === 'error');
      if (failed) return failed;
      const seen = this.resolver.generation(table);
      let set: EntrySet;
      try {
        set = await this.sets.get(table, matcher.listing);
      } catch (err) {
        return { kind: 'error', reason: `cannot read the table's ${matcher.listing}: ${(err as Error).message}`, timeout: false };
      }
      // The exact answers were of `seen`, the newest generation known when they settled; the set must be of it and still the newest.
      if (set.generation === seen && this.resolver.serves(table, seen)) return this.combine(set, matcher, key, candidates, answers, 'upstream');
      // The set revealed another generation: the exact answers are of the old one. Ask again.
    }
    return { kind: 'error', reason: 'table generation kept changing during the lookup', timeout: false };
  }

  private combine(set: EntrySet, matcher: Matcher, key: string, candidates: string[], answers: Answer[], source: 'cache' | 'upstream'): Answer {
    let bestKey: string | undefined;
    let bestValue = '';
    for (const [i, c] of candidates.entries()) {
      const a = answers[i]!;
      if (a.kind === 'found' && (bestKey === undefined || compareBytes(c, bestKey) < 0) && matcher.matches(key, c)) {
        bestKey = c;
        bestValue = a.value;
      }
    }
    const m = set.remember<SetMatch>(`${matcher.name}\0${key}`, () => matcher.firstInSet(set, key));
    if (typeof m !== 'number') return { kind: 'error', reason: m.undecidable, timeout: false };
    if (m >= 0) {
      const e = set.entries[m]!;
      if (bestKey === undefined || compareBytes(e.key, bestKey) < 0) {
        bestKey = e.key;
        bestValue = e.value;
      }
    }
    return bestKey === undefined ? { kind: 'not-found', source } : { kind: 'found', value: bestValue, source };
  }
}
