// Alias values as smtpd's expand_line() reads them (expand.c, to.c): a comma
// list (see splitList) whose every item is one of, tried in this order:
// `error:CODE text` / `:error:…`, `include:/path` / `:include:/path`,
// `|command` (optionally in double quotes), `/file`, `user@domain`, `user`.
// As in smtpd, the command may be empty: a bare `|` (or `"|"`) is taken when
// the table is read and fails only when mail is delivered to it; refusing it
// here would refuse a table smtpd itself loads.

import { splitList } from './mailaddr.js';
import { LINE_MAX, fits, isAlnum, isDigit } from './text.js';

/** EXPAND_BUFFER: the buffer of a filename, command, include path or error text. */
const EXPAND_BUFFER = 1024;
/** SMTPD_MAXLOCALPARTSIZE: the buffer of a user name. */
const USER_SIZE = 256;

function hasPrefix(s: string, prefix: string): boolean {
  return s.slice(0, prefix.length).toLowerCase() === prefix;
}

function isError(item: string): boolean {
  const skip = hasPrefix(item, ':error:') ? 7 : hasPrefix(item, 'error:') ? 6 : 0;
  if (skip === 0) return false;
  const t = item.slice(skip);
  if (!fits(t, EXPAND_BUFFER) || t.length < 5) return false;
  return t[3] === ' ' && isAlnum(t[4]) && (t[0] === '4' || t[0] === '5') && isDigit(t[1]) && isDigit(t[2]);
}

function isFilename(item: string): boolean {
  return item.startsWith('/') && fits(item, EXPAND_BUFFER);
}

function isInclude(item: string): boolean {
  const skip = hasPrefix(item, ':include:') ? 9 : hasPrefix(item, 'include:') ? 8 : 0;
  return skip > 0 && isFilename(item.slice(skip));
}

function isFilter(item: string): boolean {
  const quoted = item.startsWith('"');
  const v = quoted ? 1 : 0;
  if (item[v] !== '|') return false;
  const cmd = item.slice(v + 1);
  if (!fits(cmd, EXPAND_BUFFER)) return false;
  return !quoted || (cmd.length > 0 && cmd.endsWith('"'));
}

const ADDRESS_USER = /^[A-Za-z0-9!#$%*/?|^{}`~&'+\-=_.]+$/;
const ADDRESS_DOMAIN = /^[A-Za-z0-9.-]+$/;

function isAddress(item: string): boolean {
  if (item.length < 3) return false;
  const at = item.indexOf('@');
  if (at <= 0 || at === item.length - 1) return false;
  return ADDRESS_USER.test(item.slice(0, at)) && ADDRESS_DOMAIN.test(item.slice(at + 1));
}

function isUsername(item: string): boolean {
  return fits(item, USER_SIZE) && /^[A-Za-z0-9_.+-]*$/.test(item);
}

/** One user name or address and nothing else: the common case, taken without splitting. */
const SINGLE = /^[A-Za-z0-9_.+-]{1,255}$|^[A-Za-z0-9!#$%*/?|^{}`~&'+\-=_.]+@[A-Za-z0-9.-]+$/;

/** Why smtpd would refuse this alias value, or undefined when it takes it. */
export function aliasValueError(value: string): string | undefined {
  if (SINGLE.test(value) && value[0] !== '|' && value.length < LINE_MAX) return undefined;
  if (!fits(value, LINE_MAX)) return `alias list of ${LINE_MAX} bytes or more`;
  const items = splitList(value);
  if (!items) return 'unterminated quote or escape in alias list';
  for (const [i, item] of items.entries()) {
    if (isError(item) || isInclude(item) || isFilter(item) || isFilename(item) || isAddress(item) || isUsername(item)) continue;
    return `item ${i + 1} of the list is not a user, address, /file, |command, include: or error: item`;
  }
  return undefined;
}
