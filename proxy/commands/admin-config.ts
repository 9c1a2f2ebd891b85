// The configuration of the admin commands (load, show, rollback, status).

import { loadConfig, type Config } from '../config.js';

export interface AdminFlags {
  config?: string;
  admin?: string;
  upstream?: string;
}

/**
 * --config FILE (or $CLOUDTABLE_CONFIG), else the defaults, which point at
 * the local backend; --admin and --upstream override the URLs, checked as
 * the file's are.
 */
export function adminCommandConfig(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(flags.config ?? env.CLOUDTABLE_CONFIG, { '--admin': flags.admin, '--upstream': flags.upstream });
}
