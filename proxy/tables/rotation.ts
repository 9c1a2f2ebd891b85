// smtpd `fetch` for `source` and `relayhost`: each call answers the next
// entry. As smtpd's static table does, the answer is the entry's key, in key
// order, wrapping around at the end. The position is the last key answered,
// not an index, so a new generation carries on from the same place: entries
// added after it come next, removed ones are skipped.

import type { Service } from '../../common/contract/lookup.js';
import { compareBytes } from '../../common/smtpd/index.js';
import type { Answer } from '../resolver/answer.js';
import type { EntrySets } from './entry-sets.js';
import type { TableHandles } from './table-handle.js';
import { withDeadline } from '../resolver/with-deadline.js';

/** Answers `fetch` from the table's set of all entries; the position is kept on the table's handle. */
export class Rotation {
  constructor(
    private readonly handles: TableHandles,
    private readonly sets: EntrySets,
    private readonly deadlineMs: number,
  ) {}

  fetch(table: string, service: Service): Promise<Answer> {
    return withDeadline(this.next(table, service), this.deadlineMs);
  }

  private async next(table: string, service: Service): Promise<Answer> {
    let entries;
    try {
      entries = (await this.sets.get(table, 'entries')).entries;
    } catch (err) {
      return { kind: 'error', reason: `cannot list the table: ${(err as Error).message}`, timeout: false };
    }
    if (entries.length === 0) return { kind: 'not-found', source: 'upstream' };
    const rotation = this.handles.get(table)?.rotation;
    const prev = rotation?.get(service);
    // The first key after the previous answer (binary search), or the first key.
    let lo = 0;
    let hi = entries.length;
    if (prev !== undefined) {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareBytes(entries[mid]!.key, prev) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const entry = entries[lo === entries.length ? 0 : lo]!;
    rotation?.set(service, entry.key);
    return { kind: 'found', value: entry.key, source: 'cache' };
  }
}
