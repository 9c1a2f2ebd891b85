// The table service behind every front end: picks the kind of matching by
// service, as smtpd's static tables do (table_static.c keycmp), and checks
// looked-up values the way smtpd parses them (table_parse_lookup) so that a
// value smtpd would refuse is answered `error`, never passed on.

import type { Service } from '../../common/contract/lookup.js';
import { valueError } from '../../common/smtpd/index.js';
import { SERVICE_FACTS, servicesWhere, type Matching } from '../../common/smtpd/services.js';
import type { Logger } from '../log.js';
import type { Answer } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import type { EntrySets } from './entry-sets.js';
import { domainMatcher } from './match/domain.js';
import { mailaddrMatcher } from './match/mailaddr.js';
import type { Matcher } from './match/matcher.js';
import { netaddrMatcher } from './match/netaddr.js';
import { regexMatcher } from './match/regex.js';
import { PatternTable } from './pattern-table.js';
import { Rotation } from './rotation.js';
import type { TableService } from './table-service.js';

export interface SmtpdTablesOptions {
  resolver: Resolver;
  sets: EntrySets;
  log: Logger;
  deadlineMs: number;
  /** smtpd's subaddressing delimiter (`+` unless smtpd.conf says otherwise). */
  subaddressDelimiter: string;
  /** Answers `auth` checks (key `user:password`) on this host. */
  auth: (table: string, key: string) => Answer | Promise<Answer>;
  /** Drops what else is cached on smtpd `update`, and brings the table's replica up to date. */
  onUpdate: (table: string) => void | Promise<void>;
}

export class SmtpdTables implements TableService {
  /** By the service's matching (common/smtpd/services.ts); `exact` and `auth` have none. */
  private readonly matchers: Partial<Record<Matching, Matcher>>;
  private readonly patterns: PatternTable;
  private readonly rotation: Rotation;

  constructor(private readonly o: SmtpdTablesOptions) {
    this.matchers = {
      domain: domainMatcher,
      netaddr: netaddrMatcher,
      mailaddr: mailaddrMatcher(o.subaddressDelimiter),
      regex: regexMatcher,
    };
    this.patterns = new PatternTable(o.resolver, o.sets, o.deadlineMs);
    this.rotation = new Rotation(o.resolver.handles, o.sets, o.deadlineMs);
  }

  lookup(table: string, service: Service, key: string): Answer | Promise<Answer> {
    const a = this.match(table, service, key);
    return a instanceof Promise ? a.then((x) => this.checked(table, service, key, x)) : this.checked(table, service, key, a);
  }

  check(table: string, service: Service, key: string): Answer | Promise<Answer> {
    return this.match(table, service, key);
  }

  async fetch(table: string, service: Service): Promise<Answer> {
    if (!SERVICE_FACTS[service].fetchable) return { kind: 'error', reason: `fetch is only for ${servicesWhere('fetchable').join(' and ')}, not ${service}`, timeout: false };
    const a = await this.rotation.fetch(table, service);
    // The answer is an entry's key: it must parse as a value of the service.
    return a.kind === 'found' ? this.checked(table, service, a.value, a) : a;
  }

  async update(table: string): Promise<void> {
    await this.o.resolver.update(table);
    this.o.sets.clear();
    await this.o.onUpdate(table);
  }

  private match(table: string, service: Service, key: string): Answer | Promise<Answer> {
    const matching = SERVICE_FACTS[service].matching;
    if (matching === 'auth') return this.o.auth(table, key);
    const matcher = this.matchers[matching];
    if (matcher) return this.patterns.lookup(table, service, matcher, key);
    return this.o.resolver.lookupCached(table, service, key) ?? this.o.resolver.lookup(table, service, key);
  }

  private checked(table: string, service: Service, key: string, a: Answer): Answer {
    if (a.kind !== 'found') return a;
    const bad = valueError(service, key, a.value);
    if (bad === undefined) return a;
    // Neither the key nor the value is logged: a key may be a user name, a value a password (relay credentials).
    this.o.log.error({ table, service, reason: bad }, 'stored value is not valid for its service: answered error');
    return { kind: 'error', reason: `invalid ${service} value: ${bad}`, timeout: false };
  }
}
