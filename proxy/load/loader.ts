// `cloudtable load`: replaces a table from a file through the admin
// function's transaction — hello, list, begin, send (streamed, with a lease
// kept alive), validate, apply, optional confirmation lookups through the
// reader, commit — or rollback on any failure or on Ctrl-C. After a failed
// step whose effect is unknown (a lost reply) or a rollback that does not
// settle it, the function is asked what the table is now, and that is what
// the loader reports and exits with (see settle and reportState).

import { addAbortSignal, type Readable } from 'node:stream';
import type { BeginResponse, EntryProblem, HelloResponse, ListResponse, SendEntry, ValidateResponse } from '../../common/contract/admin.js';
import type { Service } from '../../common/contract/lookup.js';
import type { AdminClient } from '../admin/client.js';
import { CallError } from '../http/call-error.js';
import { CommandError, EX, exitCodeOf } from '../commands/exit-codes.js';
import type { Upstream } from '../upstream/client.js';
import type { Progress } from './progress.js';
import { unverifiable } from '../auth/password-hash.js';
import { isListService, storedService } from './services.js';
import { shrinkVerdict, type ShrinkPolicy } from './shrink.js';
import { parseTableStream, type TableFormat } from './table-file.js';

/** Sends in flight at once: the next batch travels while the function writes the previous one. */
const PIPELINE = 4;

export interface LoadOptions {
  table: string;
  /** The file's bytes, and how they are shown in messages. */
  input: Readable;
  source: string;
  format: TableFormat;
  foldCase: boolean;
  /** Required for a new table; an existing table keeps its own unless given. */
  service?: Service;
  dryRun: boolean;
  /** --service auth: refuse values that are no password hash the proxy verifies (--allow-unhashed turns it off). */
  checkHashes: boolean;
  /** How much of the table a load may remove before it is refused. */
  shrink: ShrinkPolicy;
  /** Keys to look up through the reader between apply and commit; each must be found. */
  confirm: string[];
  admin: AdminClient;
  reader: Upstream;
  owner: string;
  progress: (totalLabel: string) => Progress;
  /** Ctrl-C: roll back and stop. */
  signal: AbortSignal;
  /** Lines of the summary (stdout). */
  print: (line: string) => void;
  /** Why a step failed, and warnings (stderr). */
  warn: (line: string) => void;
  /** What a long step is doing, for a person watching (stderr on a terminal). */
  note: (line: string) => void;
  /** Deadline of each confirmation lookup. */
  lookupTimeoutMs: number;
}

export type LoadOutcome =
  | 'committed'
  | 'dry-run'
  /** The file has errors, or the load would shrink the table more than allowed: nothing changed. */
  | 'invalid'
  /** A confirmation key was not found in the applied generation: rolled back. */
  | 'not-confirmed'
  /** A step failed; what the table is now was found out and printed. */
  | 'failed'
  | 'interrupted';

export interface LoadResult {
  outcome: LoadOutcome;
  /** sysexits(3): 0, 65 (the data), 75 (try again), 130 (Ctrl-C)… */
  exitCode: number;
}

export class Interrupted extends Error {
  override name = 'Interrupted';
}

/** What the loader knows of its transaction, to find it again in the table's state after a failure. */
interface Held {
  txn: string;
  shadow: number;
  base: number | undefined;
  applied: boolean;
}

export async function loadTable(o: LoadOptions): Promise<LoadResult> {
  const hello = await o.admin.hello();
  const existing = await o.admin.list({ table: o.table, limit: 1 }).catch((err: unknown) => {
    if (err instanceof CallError && err.functionCode === 'unknown-table') return undefined;
    throw err;
  });
  const service = o.service ?? (existing?.service as Service | undefined);
  if (service === undefined) throw new CommandError(EX.USAGE, `table ${o.table} is new: say which service it is for with --service`);
  let begun: BeginResponse;
  try {
    begun = await o.admin.begin({
      table: o.table,
      owner: o.owner,
      ...(o.service !== undefined && { service: storedService(o.service) }),
      ...(existing && { epoch: existing.epoch }),
    });
  } catch (err) {
    if (!outcomeUnknown(err)) throw err;
    // The begin may have taken the table without our hearing of it: say whether it did.
    o.warn(`begin: ${describe(err)}`);
    return { outcome: 'failed', exitCode: await reportState(o, undefined, err) };
  }
  const held: Held = { txn: begun.txn, shadow: begun.shadow, base: begun.base, applied: false };
  const lease = keepLease(o.admin, o.table, held.txn, hello.limits.leaseMs);
  try {
    const read = await sendFile(o, hello, held.txn, service, lease);
    o.print(`${o.table}: ${read.entries} entries read from ${o.source} (${o.format} format, service ${service}${service !== storedService(service) ? `, stored as ${storedService(service)}` : ''})`);
    o.note(`validating: comparing with generation ${begun.base ?? '(none)'}…`);
    const v = await interruptible(o.signal, o.admin.validate(o.table, held.txn, read.total), lease);
    if (!v.ok) {
      printProblems(o, v);
      return { outcome: 'invalid', exitCode: await settle(o, held, 'nothing changed', EX.DATAERR) };
    }
    const d = v.diff ?? { added: 0, removed: 0, changed: 0 };
    o.print(`validated: ${v.count} entries; ${d.added} added, ${d.removed} removed, ${d.changed} changed`);
    const verdict = shrinkVerdict(o.shrink, existing?.count ?? 0, v.count, d.removed);
    if (verdict.warning !== undefined) o.warn(`warning: ${verdict.warning}`);
    if (verdict.refusal !== undefined) {
      o.print(`refused: ${verdict.refusal}`);
      return { outcome: 'invalid', exitCode: await settle(o, held, o.dryRun ? 'dry run: nothing changed' : 'nothing changed', EX.DATAERR) };
    }
    if (o.dryRun) return { outcome: 'dry-run', exitCode: await settle(o, held, 'dry run: nothing changed', EX.OK) };
    const a = await interruptible(o.signal, o.admin.apply(o.table, held.txn), lease);
    held.applied = true;
    o.print(`applied: generation ${a.generation}${a.previous !== undefined ? ` replaces generation ${a.previous}` : ''} (epoch ${a.epoch})`);
    const confirmed = await confirm(o, service, a.generation, lease);
    if (confirmed !== EX.OK) return { outcome: 'not-confirmed', exitCode: await settle(o, held, `rolled back to generation ${a.previous ?? '(none)'}`, confirmed) };
    lease.check();
    const c = await o.admin.commit(o.table, held.txn);
    lease.stop();
    o.print(
      `committed: generation ${c.generation}` +
        (c.previous !== undefined && c.previousUntil !== undefined
          ? `; generation ${c.previous} is kept until ${new Date(c.previousUntil).toISOString()} (cloudtable rollback ${o.table} restores it)`
          : ''),
    );
    return { outcome: 'committed', exitCode: EX.OK };
  } catch (err) {
    lease.stop();
    if (err instanceof Interrupted) {
      return { outcome: 'interrupted', exitCode: await settle(o, held, held.applied ? 'interrupted: rolled back' : 'interrupted: nothing changed', EX.INTERRUPTED) };
    }
    o.warn(describe(err));
    const exitCode = await settle(o, held, held.applied ? 'rolled back' : 'nothing changed', exitCodeOf(err));
    return { outcome: exitCode === EX.OK ? 'committed' : 'failed', exitCode };
  } finally {
    lease.stop();
  }
}

/**
 * Ends the transaction after a failed or abandoned step: a rollback, and if
 * its answer does not settle the question (lost, or the transaction is
 * already gone: committed after all, rolled back by lease expiry, taken
 * over), the table's state as the function sees it. Returns the exit code:
 * `failure`, or 0 if the table turns out committed with this load, or 75
 * while the transaction still holds the table.
 */
async function settle(o: LoadOptions, held: Held, what: string, failure: number): Promise<number> {
  try {
    const r = await o.admin.rollback(o.table, held.txn);
    o.print(r.expired ? `${what} (the lease had run out): generation ${r.generation ?? '(none)'} is active (epoch ${r.epoch})` : what);
    return failure;
  } catch (err) {
    o.warn(`rollback: ${describe(err)}`);
    return reportState(o, held, failure);
  }
}

/**
 * Asks the function what the table is now and says it: committed with this
 * load's generation, rolled back, or still held (by whom, in which state,
 * until when). `held` is undefined when the begin's answer was lost: the
 * transaction is then recognised by its owner.
 */
async function reportState(o: LoadOptions, held: Held | undefined, cause: unknown): Promise<number> {
  const failure = typeof cause === 'number' ? cause : exitCodeOf(cause);
  let s: ListResponse;
  try {
    s = await o.admin.list({ table: o.table, limit: 1 });
  } catch (err) {
    o.print(`the state of table ${o.table} is unknown (${describe(err)}): see \`cloudtable status\`; a transaction left open ends when its lease runs out`);
    return EX.TEMPFAIL;
  }
  const active = `generation ${s.generation ?? '(none)'} is active (epoch ${s.epoch})`;
  const x = s.transaction;
  const ours = x !== undefined && (held ? x.shadow === held.shadow : x.owner === o.owner);
  if (x && ours && !x.expired) {
    const left = Math.max(0, Math.ceil((x.leaseUntil - Date.now()) / 1000));
    const then = x.state === 'applied' ? `the table goes back to generation ${held?.base ?? '(none)'}` : 'it is discarded';
    o.print(
      `still held: this load's transaction (${x.owner}) holds table ${o.table}, ${x.state}, until ${new Date(x.leaseUntil).toISOString()} (${left} s); ` +
        `${active}; when the lease runs out ${then}`,
    );
    return EX.TEMPFAIL;
  }
  if (held && s.generation === held.shadow && x === undefined) {
    o.print(`committed: ${active} (the function's state shows this load's generation committed)`);
    return EX.OK;
  }
  const other = x && !ours ? `; the table is now held by ${x.owner}, ${x.state}, until ${new Date(x.leaseUntil).toISOString()}` : '';
  const how = ours && x?.expired ? ' by lease expiry' : '';
  o.print(`${held?.applied ? 'rolled back' : 'nothing changed'}${how}: ${active}${other}`);
  return failure === EX.OK ? EX.TEMPFAIL : failure;
}

/** A step whose effect is unknown: the request may or may not have been carried out. */
function outcomeUnknown(err: unknown): boolean {
  if (!(err instanceof CallError)) return false;
  if (err.code === 'network' || err.code === 'timeout' || err.code === 'bad-response') return true;
  return (err.code === 'http-status' || err.code === 'function-error') && (err.status ?? 0) >= 500;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface FileRead {
  /** Entries read from the file. */
  entries: number;
  /** Entries and refused lines sent to the function: what validate must have received. */
  total: number;
}

/**
 * Streams the file into the shadow generation in batches. Lines that make no
 * entry go to the function too, as refused lines, so its error summary holds
 * every problem in line order and the transaction cannot be applied.
 */
async function sendFile(o: LoadOptions, hello: HelloResponse, txn: string, service: string, lease: Lease): Promise<FileRead> {
  // A batch ends once past this: room is left for one more entry of the largest size (every
  // character escaped) and the request's own fields.
  const maxBatchBytes = hello.limits.maxBodyBytes - (hello.limits.maxKeyBytes + hello.limits.maxValueBytes) * 6 - 4096;
  const isList = isListService(service);
  let entries = 0;
  let total = 0;
  let batch: SendEntry[] = [];
  let refused: EntryProblem[] = [];
  let batchBytes = 0;
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  const progress = o.progress(`loading ${o.table}`);
  let bytesRead = 0;
  /** Lines of credentials values that are no hash: fine for relay credentials, not for a listener's auth table. */
  const unhashed: number[] = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0 && refused.length === 0) return;
    const [b, r] = [batch, refused];
    [batch, refused, batchBytes] = [[], [], 0];
    total += b.length + r.length;
    const p: Promise<void> = o.admin.send(o.table, txn, b, r).then(
      () => void inflight.delete(p),
      (err: unknown) => {
        inflight.delete(p);
        failure ??= err;
      },
    );
    inflight.add(p);
    while (inflight.size >= PIPELINE) await Promise.race(inflight);
  };

  async function* counted(input: Readable): AsyncGenerator<Buffer> {
    // Ctrl-C must not wait for the next line of a slow input (a pipe).
    addAbortSignal(o.signal, input);
    try {
      for await (const chunk of input) {
        bytesRead += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (err) {
      if (o.signal.aborted) throw new Interrupted('interrupted');
      throw err;
    }
  }

  try {
    for await (const p of parseTableStream(counted(o.input), { format: o.format, foldCase: o.foldCase })) {
      if (o.signal.aborted) throw new Interrupted('interrupted');
      lease.check();
      if (failure !== undefined) throw failure;
      if (batch.length + refused.length >= hello.limits.batchSize) await flush();
      let item: SendEntry | EntryProblem;
      if ('error' in p) {
        item = { line: p.line, key: '', message: p.error };
        refused.push(item);
      } else if (p.value === '' && !isList) {
        item = { line: p.line, key: p.key.slice(0, 100), message: `no value: a ${service} table needs "key value" lines` };
        refused.push(item);
      } else if (service === 'auth' && o.checkHashes && unverifiable(passwordOf(p.value)) !== undefined) {
        // The value is never shown: it may be a plaintext password.
        item = { line: p.line, key: p.key.slice(0, 100), message: `${String(unverifiable(passwordOf(p.value)))}; --allow-unhashed loads it anyway` };
        refused.push(item);
      } else if (Buffer.byteLength(p.key) > hello.limits.maxKeyBytes || Buffer.byteLength(p.value) > hello.limits.maxValueBytes) {
        const what = Buffer.byteLength(p.key) > hello.limits.maxKeyBytes ? `key longer than ${hello.limits.maxKeyBytes}` : `value longer than ${hello.limits.maxValueBytes}`;
        item = { line: p.line, key: p.key.slice(0, 100), message: `${what} bytes` };
        refused.push(item);
      } else {
        // A list entry stands for itself: its value is its key.
        item = { key: p.key, value: p.value === '' ? p.key : p.value, line: p.line };
        if (service === 'credentials' && unverifiable(passwordOf(p.value)) !== undefined) unhashed.push(p.line);
        entries++;
        batch.push(item);
      }
      // The body's size as sent: a batch ends before it would pass the function's limit.
      batchBytes += Buffer.byteLength(JSON.stringify(item)) + 1;
      if (batchBytes >= maxBatchBytes) await flush();
      if (entries % 1000 === 0) progress.update(bytesRead, entries);
    }
    await flush();
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  } finally {
    progress.update(bytesRead, entries);
    progress.stop();
  }
  if (unhashed.length > 0) {
    const lines = unhashed.slice(0, 10).join(', ') + (unhashed.length > 10 ? ', …' : '');
    o.warn(
      `note: ${unhashed.length} credentials value${unhashed.length === 1 ? ' is' : 's are'} not a password hash (line${unhashed.length === 1 ? '' : 's'} ${lines}): ` +
        'right for the credentials smtpd sends to a relay host; a listener\'s auth table needs hashes (load it with --service auth, which checks them)',
    );
  }
  return { entries, total };
}

function printProblems(o: LoadOptions, v: ValidateResponse): void {
  if (v.errorCount > 0) {
    o.print(`${o.source}: ${v.errorCount} error${v.errorCount === 1 ? '' : 's'}${v.errorCount > v.errors.length ? ` (the first ${v.errors.length})` : ''}:`);
    for (const e of v.errors) o.print(`  ${e.line !== undefined ? `line ${e.line}: ` : ''}${e.key !== '' ? `${JSON.stringify(e.key)}: ` : ''}${e.message}`);
  }
  if (v.problem !== undefined) o.print(`validation failed: ${v.problem}`);
}

/**
 * Looks up each confirmation key through the reader: it must be found, in
 * the applied generation. EX.OK, or why not: EX.DATAERR (not found: the
 * new table lacks it), EX.TEMPFAIL (the lookup failed, or the reader is
 * not on the applied generation yet).
 */
async function confirm(o: LoadOptions, service: Service, generation: number, lease: Lease): Promise<number> {
  for (const key of o.confirm) {
    if (o.signal.aborted) throw new Interrupted('interrupted');
    lease.check();
    let answer: string;
    let status: number = EX.TEMPFAIL;
    try {
      const r = await interruptible(o.signal, o.reader.lookup(o.table, [{ service: storedService(service), key }], o.lookupTimeoutMs), lease);
      const res = r.results[0];
      if (r.generation !== generation) answer = `answered from generation ${r.generation}, not ${generation}`;
      else if (res?.s === 'found') {
        answer = `→ ${res.value}`;
        status = EX.OK;
      } else if (res?.s === 'error') answer = `error: ${res.reason}`;
      else {
        answer = 'not found';
        status = EX.DATAERR;
      }
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      answer = `lookup failed: ${describe(err)}`;
    }
    o.print(`${status === EX.OK ? 'confirmed' : 'NOT confirmed'}: ${key} ${answer}`);
    if (status !== EX.OK) return status;
  }
  return EX.OK;
}

interface Lease {
  /** Throws the renewal failure, if the lease was lost. */
  check(): void;
  stop(): void;
}

/** Renews the lease every third of its length until stopped; a lost lease is reported at the next check. */
function keepLease(admin: AdminClient, table: string, txn: string, leaseMs: number): Lease {
  let lost: unknown;
  let busy = false;
  const timer = setInterval(
    () => {
      if (busy || lost !== undefined) return;
      busy = true;
      admin.renew(table, txn).then(
        () => (busy = false),
        (err: unknown) => {
          busy = false;
          // A passing network fault is retried at the next tick; a refusal is final.
          if (err instanceof CallError && err.status !== undefined && err.status < 500) lost = err;
        },
      );
    },
    Math.max(1000, Math.floor(leaseMs / 3)),
  );
  return {
    check: () => {
      if (lost !== undefined) throw lost;
    },
    stop: () => clearInterval(timer),
  };
}

/** Waits for `p`, but gives up at once with Interrupted on Ctrl-C (the rollback needs no answer to `p`). */
function interruptible<T>(signal: AbortSignal, p: Promise<T>, lease: Lease): Promise<T> {
  lease.check();
  if (signal.aborted) return Promise.reject(new Interrupted('interrupted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Interrupted('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** The password part of a credentials value: `user:password` or the password alone. */
function passwordOf(value: string): string {
  const colon = value.indexOf(':');
  return colon < 0 ? value : value.slice(colon + 1);
}
