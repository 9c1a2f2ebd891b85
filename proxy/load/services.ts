// What the loader and `show` need to know of a table's service: whether its
// entries are a list of keys, and what an `auth` table is stored as.

import { isService, type Service } from '../../common/contract/lookup.js';
import { SERVICE_FACTS } from '../../common/smtpd/services.js';

/** A list of keys is a table for this service (each key stands for itself): see SERVICE_FACTS. */
export function isListService(service: string | undefined): boolean {
  return service !== undefined && isService(service) && SERVICE_FACTS[service].list;
}

/**
 * What a table loaded for `service` is stored and looked up as: an `auth`
 * table holds credentials entries (user → password hash), which the proxy
 * looks up as `credentials` to verify smtpd's `auth` checks on the mail host.
 */
export function storedService(service: Service): Service {
  return service === 'auth' ? 'credentials' : service;
}
