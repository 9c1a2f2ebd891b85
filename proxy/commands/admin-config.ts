import { defaultConfig, loadConfigFile, type Config } from '../config.js';

export interface AdminFlags {
  config?: string;
  admin?: string;
  upstream?: string;
}

/**
 * The configuration of the admin commands: --config FILE (or
 * $CLOUDTABLE_CONFIG), else the defaults, which point at the local backend;
 * --admin and --upstream override the URLs.
 */
export function adminCommandConfig(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const path = flags.config ?? env.CLOUDTABLE_CONFIG;
  const config = path ? loadConfigFile(path) : defaultConfig();
  if (flags.admin) config.admin.url = new URL(flags.admin).origin;
  if (flags.upstream) config.upstream.url = new URL(flags.upstream).origin;
  return config;
}
