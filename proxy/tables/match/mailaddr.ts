// smtpd's `mailaddr` matching: full addresses, users and `@domain` entries.

import { mailaddrMatch, parseMailaddr, untagged, type Mailaddr } from '../../../common/smtpd/index.js';
import type { Entry, EntrySet } from '../entry-sets.js';
import type { Matcher, SetMatch } from './matcher.js';

/** The text forms smtpd reads as a mail address entry with this user and domain (text_to_mailaddr). */
function forms(user: string, domain: string): string[] {
  if (user !== '' && domain !== '') return [`${user}@${domain}`];
  if (user !== '') return [user, `${user}@`];
  if (domain !== '') return [`@${domain}`];
  return ['@'];
}

/**
 * `mailaddr`: `user@domain`, `@domain`, `user` (also written `user@`), `@`,
 * with the lookup address's `+tag` ignored unless the entry has a tag, and
 * `*` globs in entry domains (mailaddr_match). Every entry without a glob
 * that can match is one of a handful of exact keys, fetched together; glob
 * entries come from the set.
 */
export function mailaddrMatcher(delimiter: string): Matcher {
  return {
    name: `mailaddr${delimiter}`,
    listing: 'patterns',
    candidates(key) {
      const m = parseMailaddr(key);
      if (!m) return [];
      const users = new Set(['', m.user, untagged(m.user, delimiter)]);
      const domains = new Set(['', m.domain]);
      const out = new Set<string>();
      for (const u of users) for (const d of domains) for (const f of forms(u, d)) out.add(f);
      return [...out];
    },
    matches(key, entryKey) {
      const a = parseMailaddr(key);
      const e = parseMailaddr(entryKey);
      return a !== undefined && e !== undefined && mailaddrMatch(a, e, delimiter);
    },
    firstInSet(set: EntrySet, key: string): SetMatch {
      const a = parseMailaddr(key);
      if (!a) return -1;
      const parsed = set.derived('mailaddr', (entries: readonly Entry[]): Array<Mailaddr | undefined> => entries.map((e) => parseMailaddr(e.key)));
      return parsed.findIndex((e) => e !== undefined && mailaddrMatch(a, e, delimiter));
    },
  };
}
