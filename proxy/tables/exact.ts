import type { Service } from '../../lambda/contract.js';
import type { Answer } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import type { TableService } from './table-service.js';

/** Exact-match lookups for every service: the key as sent, straight through the resolver. */
export class ExactTableService implements TableService {
  constructor(private readonly resolver: Resolver) {}

  lookup(table: string, service: Service, key: string): Answer | Promise<Answer> {
    return this.resolver.lookupCached(table, service, key) ?? this.resolver.lookup(table, service, key);
  }

  fetch(): Promise<Answer> {
    return Promise.resolve({ kind: 'error', reason: 'fetch is not supported by exact-match tables', timeout: false });
  }

  update(): Promise<void> {
    this.resolver.clear();
    return Promise.resolve();
  }
}
