// What each table(5) service is, in one place, as OpenSMTPD's `enum
// table_service` and the switch statements around it are: how a key is
// matched, whether an answer may be served stale, whether a table file may
// list keys alone, whether smtpd `fetch`es it, whether the proxy registers it
// with smtpd by default, and whether a table can be declared for it. Every
// place that acts on a service asks here rather than keep a list of its own.
// Shared by the proxy and the function: imports nothing from either.

import { SERVICES, type Service } from '../contract/lookup.js';

/**
 * How smtpd matches a key of the service against a static table
 * (table_static.c keycmp): `exact` by the folded key; `domain`, `netaddr`,
 * `mailaddr`, `regex` with patterns matched on the mail host; `auth` is not
 * a lookup at all but a password check answered on the mail host.
 */
export type Matching = 'exact' | 'domain' | 'netaddr' | 'mailaddr' | 'regex' | 'auth';

export interface ServiceFacts {
  matching: Matching;
  /**
   * Never served stale while the function fails: a revoked password must
   * stop working at once (answers are still only ever of the newest
   * generation known, whatever the service).
   */
  neverStale: boolean;
  /** smtpd asks it with check or fetch only: a list of keys is a table for it (each key stands for itself). */
  list: boolean;
  /** smtpd `fetch`es entries of it in rotation (the answer is the entry's key). */
  fetchable: boolean;
  /** Registered in the smtpd handshake unless configured otherwise. */
  registeredByDefault: boolean;
  /** A table can be declared for it when loaded (`auth` is answered from a `credentials` table). */
  declarable: boolean;
}

const plain: ServiceFacts = { matching: 'exact', neverStale: false, list: false, fetchable: false, registeredByDefault: true, declarable: true };

export const SERVICE_FACTS: Readonly<Record<Service, Readonly<ServiceFacts>>> = {
  alias: plain,
  domain: { ...plain, matching: 'domain', list: true },
  credentials: { ...plain, neverStale: true },
  netaddr: { ...plain, matching: 'netaddr', list: true },
  userinfo: plain,
  source: { ...plain, list: true, fetchable: true },
  mailaddr: { ...plain, matching: 'mailaddr', list: true },
  addrname: plain,
  mailaddrmap: plain,
  relayhost: { ...plain, fetchable: true },
  string: { ...plain, list: true },
  regex: { ...plain, matching: 'regex', list: true },
  // Registering `auth` makes smtpd 7.6+ stop asking `credentials`.
  auth: { ...plain, matching: 'auth', neverStale: true, registeredByDefault: false, declarable: false },
};

/** The services whose facts have `fact` set, in SERVICES order. */
export function servicesWhere(fact: 'neverStale' | 'list' | 'fetchable' | 'registeredByDefault' | 'declarable'): Service[] {
  return SERVICES.filter((s) => SERVICE_FACTS[s][fact]);
}
