// `cloudtable load TABLE FILE`: a transactional table replacement from a
// file, with its exit codes.

import { createReadStream, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { Service } from '../../common/contract/lookup.js';
import { adminClientFor } from '../admin/client.js';
import { loadTable } from '../load/loader.js';
import { createProgress } from '../load/progress.js';
import type { TableFormat } from '../load/table-file.js';
import { HttpUpstream } from '../upstream/client.js';
import { RequestSigner } from '../http/signer.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { CommandError, EX, reportFailure } from './exit-codes.js';

export interface LoadFlags extends AdminFlags {
  service?: Service;
  format: TableFormat;
  keepCase?: boolean;
  dryRun?: boolean;
  confirmWith?: string[];
  allowShrink?: boolean;
  /** commander's --allow-unhashed. */
  allowUnhashed?: boolean;
  maxRemove?: number;
}

/** `cloudtable load TABLE FILE`: replace a table transactionally from a table(5) or postmap file ('-': stdin). */
export async function loadCommand(table: string, file: string, flags: LoadFlags): Promise<void> {
  const stdin = file === '-';
  let size = 0;
  try {
    if (!stdin) {
      const st = statSync(file);
      if (st.isDirectory()) throw new CommandError(EX.NOINPUT, `cannot read ${file}: it is a directory`);
      size = st.size;
    }
  } catch (err) {
    reportFailure('load', err instanceof CommandError ? err : new CommandError(EX.NOINPUT, `cannot read ${file}: ${(err as Error).message}`));
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
      checkHashes: !(flags.allowUnhashed ?? false),
      shrink: { allow: flags.allowShrink ?? false, maxRemovePercent: flags.maxRemove },
      confirm: (flags.confirmWith ?? []).flatMap((k) => k.split(',')).filter((k) => k !== ''),
      admin,
      reader,
      owner: owner(),
      progress: (label) => createProgress(process.stderr, size, label),
      signal: interrupt.signal,
      print: (line) => process.stdout.write(`${line}\n`),
      warn: (line) => process.stderr.write(`cloudtable load: ${line}\n`),
      note: (line) => void (process.stderr.isTTY && process.stderr.write(`${line}\n`)),
      lookupTimeoutMs: config.upstream.deadlineMs,
    });
    process.exitCode = outcome.exitCode;
  } catch (err) {
    reportFailure('load', err);
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
