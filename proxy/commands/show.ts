import { adminClientFor } from '../admin/client.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { exitCodeFor, isAdminFailure } from './admin-errors.js';

/**
 * `cloudtable show TABLE`: the active generation's entries on stdout, one
 * `key value` line each (a list entry, whose value is its key, as the key
 * alone), after a `#` comment line that says which generation: the output
 * can be edited and loaded again.
 */
export async function showCommand(table: string, flags: AdminFlags): Promise<void> {
  const admin = adminClientFor(adminCommandConfig(flags).admin);
  try {
    let cursor: string | undefined;
    let first = true;
    do {
      const page = await admin.list({ table, ...(cursor !== undefined && { cursor }) });
      if (first) {
        first = false;
        const txn = page.transaction ? `; transaction ${page.transaction.state}${page.transaction.expired ? ' (lease ran out)' : ''} by ${page.transaction.owner}` : '';
        process.stdout.write(
          page.generation === undefined
            ? `# table ${table}: no active generation yet${txn}\n`
            : `# table ${table}: generation ${page.generation} (epoch ${page.epoch}), service ${page.service ?? '?'}, ${page.count ?? '?'} entries${txn}\n`,
        );
      }
      let text = '';
      for (const e of page.entries) text += e.value === e.key ? `${e.key}\n` : `${e.key} ${e.value}\n`;
      if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      cursor = page.cursor;
    } while (cursor !== undefined);
  } catch (err) {
    if (!isAdminFailure(err)) throw err;
    process.stderr.write(`cloudtable show: ${err.message}\n`);
    process.exitCode = exitCodeFor(err);
  } finally {
    await admin.close();
  }
}
