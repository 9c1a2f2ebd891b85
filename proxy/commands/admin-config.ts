// The configuration of the admin commands (load, show, rollback, status).

import { loadConfig, type Config } from '../config.js';

export interface AdminFlags {
  config?: string;
  admin?: string;
  upstream?: string;
}

/**
 * The configuration file (-c FILE, else $CLOUDTABLE_CONFIG: cli.ts decides),
 * else the defaults, which point at the local backend; --admin and
 * --upstream override the URLs, checked as the file's are.
 */
export function adminCommandConfig(flags: AdminFlags): Config {
  return loadConfig(flags.config, { '--admin': flags.admin, '--upstream': flags.upstream });
}
