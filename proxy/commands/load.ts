import { createReadStream, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { Service } from '../../common/contract/lookup.js';
import { adminClientFor } from '../admin/client.js';
import { loadTable, type LoadOutcome } from '../load/loader.js';
import { createProgress } from '../load/progress.js';
import type { TableFormat } from '../load/table-file.js';
import { HttpUpstream } from '../upstream/client.js';
import { RequestSigner } from '../http/signer.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { exitCodeFor, isAdminFailure } from './admin-errors.js';

export interface LoadFlags extends AdminFlags {
  service?: Service;
  format: TableFormat;
  keepCase?: boolean;
  dryRun?: boolean;
  confirmWith?: string[];
}

const EXIT: Record<LoadOutcome, number> = { committed: 0, 'dry-run': 0, invalid: 65 /* EX_DATAERR */, failed: 1, interrupted: 130 };

/** `cloudtable load TABLE FILE`: replace a table transactionally from a table(5) or postmap file ('-': stdin). */
export async function loadCommand(table: string, file: string, flags: LoadFlags): Promise<void> {
  const stdin = file === '-';
  let size = 0;
  try {
    if (!stdin) size = statSync(file).size;
  } catch (err) {
    process.stderr.write(`cloudtable load: cannot read ${file}: ${(err as Error).message}\n`);
    process.exitCode = 66; // EX_NOINPUT
    return;
  }
  const config = adminCommandConfig(flags);
  const admin = adminClientFor(config.admin);
  const reader = new HttpUpstream(config.upstream, new RequestSigner(config.upstream.region));
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130); // a second Ctrl-C: leave now, the lease ends the transaction
    process.stderr.write('\ninterrupted: rolling back (Ctrl-C again to quit at once)\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const outcome = await loadTable({
      table,
      input: stdin ? process.stdin : createReadStream(file),
      source: stdin ? 'stdin' : file,
      format: flags.format,
      foldCase: !flags.keepCase,
      ...(flags.service !== undefined && { service: flags.service }),
      dryRun: flags.dryRun ?? false,
      confirm: (flags.confirmWith ?? []).flatMap((k) => k.split(',')).filter((k) => k !== ''),
      admin,
      reader,
      owner: owner(),
      progress: (label) => createProgress(process.stderr, size, label),
      signal: interrupt.signal,
      print: (line) => process.stdout.write(`${line}\n`),
      note: (line) => void (process.stderr.isTTY && process.stderr.write(`${line}\n`)),
      lookupTimeoutMs: config.upstream.deadlineMs,
    });
    process.exitCode = EXIT[outcome];
  } catch (err) {
    if (!isAdminFailure(err)) throw err;
    process.stderr.write(`cloudtable load: ${err.message}\n`);
    process.exitCode = exitCodeFor(err);
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.all([admin.close(), reader.close()]);
  }
}

/** Who holds the table, as a second writer is told. */
function owner(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): the host and pid still say enough
  }
  return `${user}@${hostname()} (pid ${process.pid})`;
}
