// Mail addresses as smtpd reads them from tables: text_to_mailaddr() (to.c),
// mailaddr_match() (util.c) and the comma lists of expand_line_split() /
// mailaddr_line_split() (expand.c, mailaddr.c).

import { hostnameMatch } from './hostname.js';
import { LINE_MAX, fits, foldKey, strip } from './text.js';

export interface Mailaddr {
  user: string;
  domain: string;
}

/** SMTPD_MAXLOCALPARTSIZE and SMTPD_MAXDOMAINPARTSIZE. */
const PART_SIZE = 256;

/**
 * text_to_mailaddr(): split at the last `@`. `user` has no domain, `@domain`
 * no user, `user@` an empty domain, `@` neither (the catch-all). undefined
 * when a part overflows smtpd's buffers.
 */
export function parseMailaddr(text: string): Mailaddr | undefined {
  if (!fits(text, LINE_MAX)) return undefined;
  const at = text.lastIndexOf('@');
  const m = at < 0 ? { user: text, domain: '' } : { user: text.slice(0, at), domain: text.slice(at + 1) };
  if (!fits(m.user, PART_SIZE) || !fits(m.domain, PART_SIZE)) return undefined;
  return m;
}

/**
 * mailaddr_match(address, entry): the entry's domain, when it has one, is a
 * hostname glob; its user, when it has one, is compared ignoring ASCII case,
 * after the address's `+tag` is cut off unless the entry's user has a tag of
 * its own. An entry with neither matches everything.
 */
export function mailaddrMatch(addr: Mailaddr, entry: Mailaddr, delimiter: string): boolean {
  if (entry.user === '' && entry.domain === '') return true;
  if (entry.domain !== '' && !hostnameMatch(addr.domain, entry.domain)) return false;
  if (entry.user !== '') {
    let user = addr.user;
    if (!entry.user.includes(delimiter)) {
      const p = user.indexOf(delimiter);
      if (p >= 0) user = user.slice(0, p);
    }
    if (foldKey(user) !== foldKey(entry.user)) return false;
  }
  return true;
}

/** The user part without its `+tag` (the part from the first delimiter on). */
export function untagged(user: string, delimiter: string): string {
  const p = user.indexOf(delimiter);
  return p < 0 ? user : user.slice(0, p);
}

/**
 * Splits a comma list the way smtpd's alias and sender lists are split: a
 * backslash takes the next character literally, commas inside single or
 * double quotes do not split (the quotes stay), each item is stripped of
 * spaces and empty items are skipped. undefined for an unterminated quote or
 * escape, or an item of LINE_MAX bytes or more.
 */
export function splitList(line: string): string[] | undefined {
  const items: string[] = [];
  let buf = '';
  let esc = false;
  let dq = false;
  let sq = false;
  const push = (): boolean => {
    if (!fits(buf, LINE_MAX)) return false;
    const item = strip(buf);
    if (item !== '') items.push(item);
    buf = '';
    return true;
  };
  for (const c of line) {
    if (esc) {
      buf += c;
      esc = false;
      continue;
    }
    if (c === '\\') {
      esc = true;
      continue;
    }
    if (c === ',' && !dq && !sq) {
      if (!push()) return undefined;
      continue;
    }
    buf += c;
    if (c === '"' && !sq) dq = !dq;
    if (c === "'" && !dq) sq = !sq;
  }
  if (esc || dq || sq) return undefined;
  if (!push()) return undefined;
  return items;
}
