// The one `cloudtable` command line. Each subcommand lives in commands/;
// this file only declares them.

import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from './config.js';
import { backendCommand } from './commands/backend.js';
import { demoCommand } from './commands/demo.js';
import { smtpdCommand } from './commands/smtpd.js';
import { sockmapCommand } from './commands/sockmap.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}

export function buildCli(): Command {
  const program = new Command('cloudtable')
    .description('Mail lookup tables in DynamoDB, served to OpenSMTPD, Postfix and Sendmail by a local caching proxy')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('smtpd')
    .description('OpenSMTPD proc table on stdin/stdout (smtpd-tables(7)); also installed as table-cloudtable')
    .argument('[config]', 'configuration file (TOML or JSON)')
    .option('--upstream <url>', 'function URL (overrides upstream.url)')
    .option('--table <name>', 'cloud table to query (default: the smtpd table name)')
    .action((config: string | undefined, flags: { upstream?: string; table?: string }) => smtpdCommand(config, flags));

  program
    .command('sockmap')
    .description('socketmap server for Postfix and Sendmail')
    .option('--listen <address>', 'inet:HOST:PORT or unix:PATH, repeatable (default: the configuration\'s, else inet:127.0.0.1:8788)', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--dialect <client>', 'the client on the --listen addresses').choices(['postfix', 'sendmail']))
    .option('--config <file>', 'configuration file (TOML or JSON); SIGHUP reloads it')
    .option('--upstream <url>', 'function URL (overrides upstream.url)')
    .action((flags: { listen?: string[]; dialect?: 'postfix' | 'sendmail'; config?: string; upstream?: string }) => sockmapCommand(flags));

  program
    .command('backend')
    .description('the cloud function served locally over HTTP, on embedded DynamoDB (dynalite)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <n>', 'port to listen on').argParser(port).default(8787))
    .option('--data <dir>', 'keep the data in this directory (LevelDB)')
    .option('--memory', 'keep the data in memory (the default)')
    .action((flags: { host: string; port: number; data?: string; memory?: boolean }) => backendCommand(flags));

  program
    .command('demo')
    .description('the complete local stack with sample tables (what `npm start` runs)')
    .addOption(new Option('--port <n>', 'backend port').argParser(port).default(8787))
    .option('--data <dir>', 'keep the data in this directory')
    .action((flags: { port: number; data?: string }) => demoCommand(flags));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const msg = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`cloudtable: ${msg}\n`);
    process.exit(err instanceof ConfigError ? 78 /* EX_CONFIG */ : 1);
  }
}
