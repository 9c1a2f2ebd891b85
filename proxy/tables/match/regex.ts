// smtpd's `regex` matching: POSIX extended expressions tried in key order.

import { compileSmtpdRegex, regexMatches, type CompiledRegex } from '../../../common/smtpd/index.js';
import type { Entry, EntrySet } from '../entry-sets.js';
import type { Matcher, SetMatch } from './matcher.js';

/**
 * `regex`: every key of the table is a POSIX extended regular expression,
 * tried in key order (table_regex_match). A pattern that JavaScript cannot
 * run exactly as smtpd's regcomp would (see common/smtpd/regex.ts)
 * makes any lookup that reaches it undecidable, answered `error`.
 */
export const regexMatcher: Matcher = {
  name: 'regex',
  listing: 'entries',
  candidates: () => [],
  matches: () => false,
  firstInSet(set: EntrySet, key: string): SetMatch {
    const compiled = set.derived('regex', (entries: readonly Entry[]): CompiledRegex[] => entries.map((e) => compileSmtpdRegex(e.key)));
    for (const [i, c] of compiled.entries()) {
      if (!c.ok) return { undecidable: `regex ${JSON.stringify(set.entries[i]!.key.slice(0, 80))}: ${c.reason}` };
      if (regexMatches(c.regex, key)) return i;
    }
    return -1;
  },
};
