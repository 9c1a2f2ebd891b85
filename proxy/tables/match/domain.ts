// smtpd's `domain` matching: the key itself, or a `*` glob.

import { hostnameMatch } from '../../../common/smtpd/index.js';
import type { EntrySet } from '../entry-sets.js';
import type { Matcher, SetMatch } from './matcher.js';

/** `domain`: the key itself, or a `*` glob (hostname_match). */
export const domainMatcher: Matcher = {
  name: 'domain',
  listing: 'patterns',
  candidates: (key) => [key],
  matches: (key, entryKey) => hostnameMatch(key, entryKey),
  firstInSet: (set: EntrySet, key: string): SetMatch => set.entries.findIndex((e) => hostnameMatch(key, e.key)),
};
