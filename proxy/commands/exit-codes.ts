// The one place that turns a failure into the command's exit status, as
// sysexits(3) numbers them, so scripts (cron jobs, deploy pipelines) can
// tell "try again later" (75) from "fix the input" (65) or "fix the
// command line" (64) without reading messages. Every command reports its
// failures through reportFailure() below.

import { CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { CallError, type CallFailure } from '../http/call-error.js';

export const EX = {
  OK: 0,
  /** The command line is wrong. */
  USAGE: 64,
  /** The input data is wrong (a table file with errors, a refused load). */
  DATAERR: 65,
  /** The input file, or the table, does not exist or cannot be read. */
  NOINPUT: 66,
  /** A service the command needs answered, but not usefully (protocol mismatch, unexpected refusal). */
  UNAVAILABLE: 69,
  /** A bug: an error nobody anticipated. */
  SOFTWARE: 70,
  /** Temporary: busy table, network, timeout, throttling, a 5xx; running again later may succeed. */
  TEMPFAIL: 75,
  PROTOCOL: 76,
  /** Credentials missing or refused. */
  NOPERM: 77,
  CONFIG: 78,
  /** Ctrl-C, as a shell reports SIGINT. */
  INTERRUPTED: 130,
} as const;

/** A failure the command itself detected, with the status it calls for. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The function's error codes (admin and reader contracts), which say more than the HTTP status. */
const BY_FUNCTION_CODE: Record<string, number> = {
  busy: EX.TEMPFAIL,
  changed: EX.TEMPFAIL,
  'lease-expired': EX.TEMPFAIL,
  'no-transaction': EX.TEMPFAIL,
  'generation-gone': EX.TEMPFAIL,
  'store-unavailable': EX.TEMPFAIL,
  replicating: EX.TEMPFAIL,
  'unknown-table': EX.NOINPUT,
  'nothing-to-undo': EX.NOINPUT,
  'no-service': EX.USAGE,
  'too-many-entries': EX.DATAERR,
  forbidden: EX.NOPERM,
  'access-denied': EX.NOPERM,
};

/** What failed in a call (CallError's codes), when the function gave no code of its own. */
const BY_CALL_FAILURE: Record<CallFailure, number | undefined> = {
  credentials: EX.NOPERM,
  timeout: EX.TEMPFAIL,
  aborted: EX.TEMPFAIL,
  network: EX.TEMPFAIL,
  'bad-response': EX.PROTOCOL,
  // Decided by the status.
  'http-status': undefined,
  'function-error': undefined,
};

/** Node's file errors that mean "this input cannot be read". */
const NO_INPUT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

/** The exit status a failure calls for; EX.SOFTWARE for anything not anticipated. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommandError) return err.exitCode;
  if (err instanceof ConfigError) return EX.CONFIG;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EX.OK : EX.USAGE;
  if (err instanceof CallError) {
    const known = (err.functionCode !== undefined ? BY_FUNCTION_CODE[err.functionCode] : undefined) ?? BY_CALL_FAILURE[err.code];
    if (known !== undefined) return known;
    // No code that says more (a gateway, a throttle in front of the function): the status decides, as the README promises.
    const status = err.status ?? 0;
    if (status === 429 || status === 408 || status >= 500) return EX.TEMPFAIL;
    if (status === 401 || status === 403) return EX.NOPERM;
    return EX.UNAVAILABLE;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  const syscall = (err as { syscall?: unknown } | undefined)?.syscall;
  if (typeof code === 'string' && typeof syscall === 'string' && NO_INPUT.has(code)) return EX.NOINPUT;
  return EX.SOFTWARE;
}

/** Writes `cloudtable COMMAND: message` on stderr (the stack too for a bug) and sets the exit status. */
export function reportFailure(command: string | undefined, err: unknown): void {
  const status = exitCodeOf(err);
  const text = err instanceof Error ? (status === EX.SOFTWARE ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`cloudtable${command !== undefined ? ` ${command}` : ''}: ${text}\n`);
  process.exitCode = status;
}
