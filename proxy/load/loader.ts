// `cloudtable load`: replaces a table from a file through the admin
// function's transaction — hello, list, begin, send (streamed, with a lease
// kept alive), validate, apply, optional confirmation lookups through the
// reader, commit — or rollback on any failure or on Ctrl-C.

import { addAbortSignal, type Readable } from 'node:stream';
import type { EntryProblem, HelloResponse, SendEntry, ValidateResponse } from '../../common/contract/admin.js';
import { isService, type Service } from '../../common/contract/lookup.js';
import { SERVICE_FACTS } from '../../common/smtpd/services.js';
import type { AdminClient } from '../admin/client.js';
import { CallError } from '../http/call-error.js';
import type { Upstream } from '../upstream/client.js';
import type { Progress } from './progress.js';
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
  /** What a long step is doing, for a person watching (stderr on a terminal). */
  note: (line: string) => void;
  /** Deadline of each confirmation lookup. */
  lookupTimeoutMs: number;
}

export type LoadOutcome = 'committed' | 'dry-run' | 'invalid' | 'failed' | 'interrupted';

export class Interrupted extends Error {
  override name = 'Interrupted';
}

/** A load refused before anything is sent (`code`: why, e.g. `no-service`). */
export class LoadRefused extends Error {
  override name = 'LoadRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function loadTable(o: LoadOptions): Promise<LoadOutcome> {
  const hello = await o.admin.hello();
  const existing = await o.admin.list({ table: o.table, limit: 1 }).catch((err: unknown) => {
    if (err instanceof CallError && err.functionCode === 'unknown-table') return undefined;
    throw err;
  });
  const service = o.service ?? (existing?.service as Service | undefined);
  if (service === undefined) throw new LoadRefused('no-service', `table ${o.table} is new: say which service it is for with --service`);
  const begun = await o.admin.begin({
    table: o.table,
    owner: o.owner,
    ...(o.service !== undefined && { service: o.service }),
    ...(existing && { epoch: existing.epoch }),
  });
  const txn = begun.txn;
  const lease = keepLease(o.admin, o.table, txn, hello.limits.leaseMs);
  let applied = false;
  try {
    const read = await sendFile(o, hello, txn, service, lease);
    o.print(`${o.table}: ${read.entries} entries read from ${o.source} (${o.format} format, service ${service})`);
    o.note(`validating: comparing with generation ${begun.base ?? '(none)'}…`);
    const v = await interruptible(o.signal, o.admin.validate(o.table, txn, read.total), lease);
    if (!v.ok) {
      printProblems(o, v);
      await rollback(o, txn, 'nothing changed');
      return 'invalid';
    }
    const d = v.diff ?? { added: 0, removed: 0, changed: 0 };
    o.print(`validated: ${v.count} entries; ${d.added} added, ${d.removed} removed, ${d.changed} changed`);
    if (o.dryRun) {
      await rollback(o, txn, 'dry run: nothing changed');
      return 'dry-run';
    }
    const a = await interruptible(o.signal, o.admin.apply(o.table, txn), lease);
    applied = true;
    o.print(`applied: generation ${a.generation}${a.previous !== undefined ? ` replaces generation ${a.previous}` : ''} (epoch ${a.epoch})`);
    if (!(await confirm(o, service, a.generation, lease))) {
      await rollback(o, txn, `rolled back to generation ${a.previous ?? '(none)'}`);
      return 'failed';
    }
    lease.check();
    const c = await o.admin.commit(o.table, txn);
    lease.stop();
    o.print(
      `committed: generation ${c.generation}` +
        (c.previous !== undefined && c.previousUntil !== undefined
          ? `; generation ${c.previous} is kept until ${new Date(c.previousUntil).toISOString()} (cloudtable rollback ${o.table} restores it)`
          : ''),
    );
    return 'committed';
  } catch (err) {
    if (err instanceof Interrupted) {
      await rollback(o, txn, applied ? 'interrupted: rolled back' : 'interrupted: nothing changed');
      return 'interrupted';
    }
    if (err instanceof CallError && (err.functionCode === 'lease-expired' || err.functionCode === 'no-transaction')) {
      // The function has already discarded or rolled back the transaction.
      o.print(`${err.message}`);
      return 'failed';
    }
    await rollback(o, txn, applied ? 'rolled back' : 'nothing changed');
    throw err;
  } finally {
    lease.stop();
  }
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
  const isList = isService(service) && SERVICE_FACTS[service].list;
  let entries = 0;
  let total = 0;
  let batch: SendEntry[] = [];
  let refused: EntryProblem[] = [];
  let batchBytes = 0;
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  const progress = o.progress(`loading ${o.table}`);
  let bytesRead = 0;

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
      } else if (Buffer.byteLength(p.key) > hello.limits.maxKeyBytes || Buffer.byteLength(p.value) > hello.limits.maxValueBytes) {
        const what = Buffer.byteLength(p.key) > hello.limits.maxKeyBytes ? `key longer than ${hello.limits.maxKeyBytes}` : `value longer than ${hello.limits.maxValueBytes}`;
        item = { line: p.line, key: p.key.slice(0, 100), message: `${what} bytes` };
        refused.push(item);
      } else {
        // A list entry stands for itself: its value is its key.
        item = { key: p.key, value: p.value === '' ? p.key : p.value, line: p.line };
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
  return { entries, total };
}

function printProblems(o: LoadOptions, v: ValidateResponse): void {
  if (v.errorCount > 0) {
    o.print(`${o.source}: ${v.errorCount} error${v.errorCount === 1 ? '' : 's'}${v.errorCount > v.errors.length ? ` (the first ${v.errors.length})` : ''}:`);
    for (const e of v.errors) o.print(`  ${e.line !== undefined ? `line ${e.line}: ` : ''}${e.key !== '' ? `${JSON.stringify(e.key)}: ` : ''}${e.message}`);
  }
  if (v.problem !== undefined) o.print(`validation failed: ${v.problem}`);
}

/** Looks up each confirmation key through the reader: it must be found, in the applied generation. */
async function confirm(o: LoadOptions, service: Service, generation: number, lease: Lease): Promise<boolean> {
  for (const key of o.confirm) {
    if (o.signal.aborted) throw new Interrupted('interrupted');
    lease.check();
    let answer: string;
    let ok = false;
    try {
      const r = await interruptible(o.signal, o.reader.lookup(o.table, [{ service, key }], o.lookupTimeoutMs), lease);
      const res = r.results[0];
      if (r.generation !== generation) answer = `answered from generation ${r.generation}, not ${generation}`;
      else if (res?.s === 'found') {
        answer = `→ ${res.value}`;
        ok = true;
      } else answer = res?.s === 'error' ? `error: ${res.reason}` : 'not found';
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      answer = `lookup failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    o.print(`${ok ? 'confirmed' : 'NOT confirmed'}: ${key} ${answer}`);
    if (!ok) return false;
  }
  return true;
}

async function rollback(o: LoadOptions, txn: string, what: string): Promise<void> {
  try {
    await o.admin.rollback(o.table, txn);
    o.print(what);
  } catch (err) {
    if (err instanceof CallError && err.functionCode === 'no-transaction') {
      o.print(what);
      return;
    }
    o.print(`rollback failed (${err instanceof Error ? err.message : String(err)}): the table rolls back by itself when the transaction's lease runs out`);
  }
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
