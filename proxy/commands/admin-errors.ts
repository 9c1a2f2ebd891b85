// Exit codes of the admin commands for their failures.

import { CallError } from '../http/call-error.js';
import { LoadRefused } from '../load/loader.js';

/** The failures the admin commands report with an exit code rather than a stack trace. */
export function isAdminFailure(err: unknown): err is CallError | LoadRefused {
  return err instanceof CallError || err instanceof LoadRefused;
}

/** sysexits(3) codes for refusals of the admin function, so scripts can tell "try later" from "fix it". */
export function exitCodeFor(err: CallError | LoadRefused): number {
  switch (err instanceof CallError ? (err.functionCode ?? err.code) : err.code) {
    case 'busy':
    case 'network':
    case 'timeout':
    case 'store-unavailable':
    case 'replicating':
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
