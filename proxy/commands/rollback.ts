// `cloudtable rollback TABLE`: undo (or redo) the last commit.

import { adminClientFor } from '../admin/client.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { reportFailure } from './exit-codes.js';

/** `cloudtable rollback TABLE`: undo the last commit while its previous generation is kept (run again to redo). */
export async function rollbackCommand(table: string, flags: AdminFlags): Promise<void> {
  const admin = adminClientFor(adminCommandConfig(flags).admin);
  try {
    const u = await admin.undo({ table });
    process.stdout.write(
      `${table}: generation ${u.generation} is active again (epoch ${u.epoch})` +
        (u.previous !== undefined && u.previousUntil !== undefined
          ? `; generation ${u.previous} is kept until ${new Date(u.previousUntil).toISOString()} (run again to go back to it)\n`
          : '\n'),
    );
  } catch (err) {
    reportFailure('rollback', err);
  } finally {
    await admin.close();
  }
}
