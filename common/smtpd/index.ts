// Validation of table entries with smtpd's own rules, shared by the proxy
// (answers) and the cloud function (uploads). Pure functions: no I/O, no
// imports from proxy/.
//
// Loaders store keys folded with foldKey(), as smtpd, makemap and postmap do
// by default: the proxy fetches exact keys by their folded form.

import type { Service } from '../contract/lookup.js';
import { keyError } from './keys.js';
import { valueError } from './values.js';

export { foldKey, isPatternKey, keyError } from './keys.js';
export { valueError } from './values.js';
export { hostnameMatch } from './hostname.js';
export { mailaddrMatch, parseMailaddr, splitList, untagged, type Mailaddr } from './mailaddr.js';
export { exactAddressTexts, netaddrContains, netaddrMatch, parseNetaddr, parseSockaddr, type Netaddr } from './netaddr.js';
export { compileSmtpdRegex, regexMatches, type CompiledRegex } from './regex.js';
export { relayhostError } from './relayhost.js';
export { compareBytes } from './text.js';
export { SERVICE_FACTS, servicesWhere, type Matching, type ServiceFacts } from './services.js';

/** Why an entry (key and value) would not work in smtpd under `service`, or undefined. */
export function entryError(service: Service, key: string, value: string): string | undefined {
  return keyError(service, key) ?? valueError(service, key, value);
}
