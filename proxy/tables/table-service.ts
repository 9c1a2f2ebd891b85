import type { Service } from '../../lambda/contract.js';
import type { Answer } from '../resolver/answer.js';

/**
 * What front ends ask of a table, whatever the service's matching rules.
 * Like OpenSMTPD's `table_backend`: one interface, one module per kind of
 * matching behind it. `lookup` answers synchronously when it can (cache
 * hits), so the hit path allocates no promise.
 */
export interface TableService {
  lookup(table: string, service: Service, key: string): Answer | Promise<Answer>;
  /** The next entry of a rotating service (smtpd `fetch`: source, relayhost). */
  fetch(table: string, service: Service): Promise<Answer>;
  /** Drops what is cached (smtpd `update`). */
  update(table: string): Promise<void>;
}
