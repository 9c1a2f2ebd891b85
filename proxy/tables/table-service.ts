// The interface front ends ask tables through (lookup, check, fetch, update).

import type { Service } from '../../common/contract/lookup.js';
import type { Answer } from '../resolver/answer.js';

/**
 * What front ends ask of a table, whatever the service's matching rules.
 * Like OpenSMTPD's `table_backend`: one interface, one module per kind of
 * matching behind it. `lookup` and `check` answer synchronously when they
 * can (cache hits), so the hit path allocates no promise.
 */
export interface TableService {
  /** The value of the entry matching `key` (smtpd `lookup`, socketmap). */
  lookup(table: string, service: Service, key: string): Answer | Promise<Answer>;
  /**
   * Whether an entry matches `key` (smtpd `check`). smtpd never parses the
   * value of a checked entry, so neither does this; `auth` is only checked.
   */
  check(table: string, service: Service, key: string): Answer | Promise<Answer>;
  /** The next entry of a rotating service (smtpd `fetch`: source, relayhost). */
  fetch(table: string, service: Service): Promise<Answer>;
  /** Drops what is cached (smtpd `update`). */
  update(table: string): Promise<void>;
}
