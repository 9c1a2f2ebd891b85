// What the admin function checks of each entry before it enters a shadow
// generation: smtpd's own rules for the table's declared service (the
// validators the proxy uses too), plus what the store and the proxy's
// protocols need of every value, and no key twice in a batch.

import { ADMIN_LIMITS, type SendEntry } from '../../common/contract/admin.js';
import { byteLength, isService } from '../../common/contract/lookup.js';
import type { EntryError } from '../store/store.js';
import type { CheckedBatch } from '../store/transaction.js';
import { entryError } from '../../common/smtpd/index.js';

// CR, LF and NUL end or cut a protocol line in every client.
const LINE_BREAKING = /[\r\n\0]/;

/**
 * Splits a batch into entries to store and entries refused, each refusal
 * with its line and a reason; a key sent twice is refused rather than
 * silently overwritten. Lines the client already refused come first in line
 * order with the others.
 */
export function checkEntries(service: string, entries: SendEntry[], refusedByClient: EntryError[] = []): CheckedBatch {
  const accepted: Array<[string, string]> = [];
  const rejected: EntryError[] = [...refusedByClient];
  const seen = new Map<string, number | undefined>();
  for (const e of entries) {
    const problem = entryProblem(service, e) ?? duplicate(seen, e);
    if (problem !== undefined) {
      rejected.push({ key: preview(e.key), message: problem, ...(e.line !== undefined && { line: e.line }) });
      continue;
    }
    seen.set(e.key, e.line);
    accepted.push([e.key, e.value]);
  }
  rejected.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { accepted, rejected };
}

function entryProblem(service: string, e: SendEntry): string | undefined {
  if (!isService(service)) return `the table's service ${JSON.stringify(service)} is not a table(5) service`;
  // A found answer must carry a value: smtpd and Postfix both refuse an empty one.
  if (e.value === '') return 'empty value';
  if (byteLength(e.value) > ADMIN_LIMITS.maxValueBytes) return `value longer than ${ADMIN_LIMITS.maxValueBytes} bytes`;
  if (LINE_BREAKING.test(e.value)) return 'value contains CR, LF or NUL';
  return entryError(service, e.key, e.value);
}

function duplicate(seen: Map<string, number | undefined>, e: SendEntry): string | undefined {
  if (!seen.has(e.key)) return undefined;
  const first = seen.get(e.key);
  return first === undefined ? 'key appears twice' : `key already on line ${first}`;
}

/** Keys can be long; the summary shows their start. */
function preview(key: string): string {
  return key.length > 80 ? `${key.slice(0, 80)}…` : key;
}
