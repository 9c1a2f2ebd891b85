// What smtpd's table_parse_lookup() (table.c) accepts for each service, and
// the relay URL check that follows for `relayhost`. A value smtpd would
// refuse becomes a temporary failure in smtpd (the lookup returns -1), so the
// proxy answers `error` for it rather than pass it on, and a loader can
// refuse it before it is ever served. A reason names the problem (and the
// item's place in a list), never the value: reasons reach smtpd's error
// replies, socketmap's TEMP text and logs, and a value may be a secret.

import type { Service } from '../contract/lookup.js';
import { aliasValueError } from './alias.js';
import { parseMailaddr, splitList } from './mailaddr.js';
import { parseNetaddr, parseSockaddr } from './netaddr.js';
import { relayhostError } from './relayhost.js';
import { HOSTNAME_SIZE, LINE_MAX, PATH_MAX, fits, strtonum } from './text.js';

/** SMTPD_VUSERNAME_SIZE. */
const USERNAME_SIZE = 256;
/** UID_MAX and GID_MAX. */
const ID_MAX = 0xffffffff;

function credentialsError(key: string, value: string): string | undefined {
  if (Buffer.byteLength(value) < 3) return 'credentials shorter than 3 bytes';
  if (!fits(value, LINE_MAX)) return `credentials of ${LINE_MAX} bytes or more`;
  const colon = value.indexOf(':');
  if (colon < 0) return fits(key, LINE_MAX) ? undefined : 'user name too long';
  if (colon === 0 || colon === value.length - 1) return 'credentials must be user:password or a password hash alone';
  return undefined;
}

function userinfoError(key: string, value: string): string | undefined {
  // smtpd parses "KEY:VALUE" as user:uid:gid:directory.
  const line = `${key}:${value}`;
  if (!fits(line, LINE_MAX)) return 'userinfo line too long';
  const f = line.split(':');
  if (f.length < 4) return 'userinfo must be uid:gid:directory';
  const [user, uid, gid] = f as [string, string, string];
  const dir = f.slice(3).join(':');
  if (!fits(user, USERNAME_SIZE)) return 'user name too long';
  if (strtonum(uid, 0, ID_MAX) === undefined) return 'invalid uid';
  if (strtonum(gid, 0, ID_MAX) === undefined) return 'invalid gid';
  if (!fits(dir, PATH_MAX)) return 'home directory too long';
  return undefined;
}

function mailaddrmapError(value: string): string | undefined {
  const items = splitList(value);
  if (!items) return 'unterminated quote or escape in address list';
  const bad = items.findIndex((i) => !parseMailaddr(i));
  return bad < 0 ? undefined : `item ${bad + 1} of the list is not an address`;
}

/**
 * Why smtpd would refuse `value` for `key` under `service`, or undefined
 * when it takes it. `string`, `regex` and `auth` are only ever checked, never
 * looked up for a value, so any value is taken.
 */
export function valueError(service: Service, key: string, value: string): string | undefined {
  switch (service) {
    case 'alias':
      return aliasValueError(value);
    case 'domain':
      return fits(value, HOSTNAME_SIZE) ? undefined : 'domain too long';
    case 'credentials':
      return credentialsError(key, value);
    case 'netaddr':
      return parseNetaddr(value) ? undefined : 'not an address or prefix';
    case 'userinfo':
      return userinfoError(key, value);
    case 'source':
      return parseSockaddr(value) ? undefined : 'not an IPv4 or IPv6 address';
    case 'mailaddr':
      return parseMailaddr(value) ? undefined : 'not an address';
    case 'mailaddrmap':
      return mailaddrmapError(value);
    case 'addrname':
      if (!parseSockaddr(key)) return 'addrname keys must be IPv4 or IPv6 addresses';
      return fits(value, HOSTNAME_SIZE) ? undefined : 'host name too long';
    case 'relayhost':
      return relayhostError(value);
    case 'string':
    case 'regex':
    case 'auth':
      return undefined;
  }
}
