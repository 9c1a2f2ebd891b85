import type { AdminError } from '../admin/client.js';

/** sysexits(3) codes for refusals of the admin function, so scripts can tell "try later" from "fix it". */
export function exitCodeFor(err: AdminError): number {
  switch (err.code) {
    case 'busy':
    case 'network':
    case 'timeout':
    case 'store-unavailable':
      return 75; // EX_TEMPFAIL
    case 'unknown-table':
    case 'nothing-to-undo':
      return 66; // EX_NOINPUT
    case 'forbidden':
    case 'credentials':
      return 77; // EX_NOPERM
    default:
      return 1;
  }
}
