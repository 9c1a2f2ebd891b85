// What the admin function checks of each entry before it enters a shadow
// generation: what every table needs (keys and values DynamoDB can hold and
// the proxy can put on one protocol line, no key twice) and what the
// table's declared service needs of a value.

import { ADMIN_LIMITS, type SendEntry } from '../admin-contract.js';
import { byteLength } from '../contract.js';
import type { EntryError } from '../store/store.js';
import type { CheckedBatch } from '../store/transaction.js';

/** Says what is wrong with a value for a service, or undefined when smtpd would take it. */
export type ValueCheck = (service: string, key: string, value: string) => string | undefined;

/** Services whose entries are `key value` maps: a key alone (a list entry) means nothing to them. */
const MAP_SERVICES = new Set(['alias', 'credentials', 'userinfo', 'addrname', 'mailaddrmap']);

/** Checks every table needs, whatever its service. */
export const basicValueCheck: ValueCheck = (service, _key, value) => {
  if (value === '' && MAP_SERVICES.has(service)) return `a ${service} entry needs a value`;
  return undefined;
};

// CR, LF and NUL end or cut a protocol line in every client.
const LINE_BREAKING = /[\r\n\0]/;


/**
 * Splits a batch into entries to store and entries refused, each refusal
 * with its line and a reason. `seen` holds the keys of this batch so a key
 * sent twice is refused rather than silently overwritten.
 */
export function checkEntries(service: string, entries: SendEntry[], valueCheck: ValueCheck): CheckedBatch {
  const accepted: Array<[string, string]> = [];
  const rejected: EntryError[] = [];
  const seen = new Map<string, number | undefined>();
  for (const e of entries) {
    const problem = entryProblem(service, e, valueCheck) ?? duplicate(seen, e);
    if (problem !== undefined) {
      rejected.push({ key: preview(e.key), message: problem, ...(e.line !== undefined && { line: e.line }) });
      continue;
    }
    seen.set(e.key, e.line);
    accepted.push([e.key, e.value]);
  }
  return { accepted, rejected };
}

function entryProblem(service: string, e: SendEntry, valueCheck: ValueCheck): string | undefined {
  if (e.key === '') return 'empty key';
  if (byteLength(e.key) > ADMIN_LIMITS.maxKeyBytes) return `key longer than ${ADMIN_LIMITS.maxKeyBytes} bytes`;
  if (LINE_BREAKING.test(e.key)) return 'key contains CR, LF or NUL';
  if (byteLength(e.value) > ADMIN_LIMITS.maxValueBytes) return `value longer than ${ADMIN_LIMITS.maxValueBytes} bytes`;
  if (LINE_BREAKING.test(e.value)) return 'value contains CR, LF or NUL';
  return valueCheck(service, e.key, e.value);
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
