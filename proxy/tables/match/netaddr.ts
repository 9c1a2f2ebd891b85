// smtpd's `netaddr` matching: addresses and CIDR networks, IPv4 and IPv6.

import { exactAddressTexts, netaddrContains, netaddrMatch, parseNetaddr, type Netaddr } from '../../../common/smtpd/index.js';
import type { Entry, EntrySet } from '../entry-sets.js';
import type { Matcher, SetMatch } from './matcher.js';

interface Parsed {
  key: string;
  net: Netaddr | undefined;
}

/**
 * `netaddr`: the key itself (`local`, a host name from `from rdns`), the
 * exact text forms of its address (`[::1]` and `::1`), and prefixes or
 * differently written addresses from the set (table_netaddr_match). As in
 * smtpd, an IPv4 address and an IPv6 one never match each other, so a
 * v4-mapped key (`[::ffff:192.0.2.1]`) matches v6 entries such as
 * `::ffff:192.0.2.0/120`, not `192.0.2.0/24`.
 */
export const netaddrMatcher: Matcher = {
  name: 'netaddr',
  listing: 'patterns',
  candidates(key) {
    const n = parseNetaddr(key);
    return n ? [...new Set([key, ...exactAddressTexts(n)])] : [key];
  },
  matches: (key, entryKey) => netaddrMatch(key, entryKey),
  firstInSet(set: EntrySet, key: string): SetMatch {
    const parsed = set.derived('netaddr', (entries: readonly Entry[]): Parsed[] => entries.map((e) => ({ key: e.key, net: parseNetaddr(e.key) })));
    const n = parseNetaddr(key);
    return parsed.findIndex((e) => e.key === key || (n !== undefined && e.net !== undefined && netaddrContains(e.net, n)));
  },
};
