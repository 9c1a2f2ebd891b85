// The one `cloudtable` command line. Each subcommand lives in commands/;
// this file only declares them, and loads a command's module when that
// command runs: a table process started by smtpd never loads the local
// backend (dynalite, the DynamoDB SDK), the loader or the admin client.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS } from './config.js';
import { fileMode } from './config/kinds.js';
import { exitCodeOf, reportFailure } from './commands/exit-codes.js';
import type { BackendFlags } from './commands/backend.js';
import type { SmtpdFlags } from './commands/smtpd.js';
import type { SockmapFlags } from './commands/sockmap.js';
import type { LoadFlags } from './commands/load.js';
import type { ShowFlags } from './commands/show.js';
import type { HashFlags } from './commands/hash.js';
import { HASH_SCHEMES } from './commands/hash-schemes.js';
import { TABLE_FORMATS } from './load/table-formats.js';
import type { StatusFlags } from './commands/status.js';
import type { AdminFlags } from './commands/admin-config.js';
import { servicesWhere } from '../common/smtpd/services.js';
import { DEFAULT_PORT } from './addresses/listen-address.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('a whole number');
  return n;
}

function percent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('a percentage from 0 to 100');
  return n;
}

export function buildCli(): Command {
  const program = new Command('cloudtable')
    .description('Mail lookup tables in DynamoDB, served to OpenSMTPD, Postfix and Sendmail by a local caching proxy')
    .showHelpAfterError()
    // Usage errors throw (CommanderError) instead of exiting 1: main() gives them EX_USAGE.
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('smtpd')
    .description('OpenSMTPD proc table on stdin/stdout (smtpd-tables(7)); also installed as table-cloudtable')
    .argument('[config]', 'configuration file (TOML or JSON), as smtpd.conf passes it; wins over -c')
    .addOption(configOption())
    .option('--upstream <url>', 'function URL (overrides upstream.url)')
    .option('--table <name>', 'cloud table to query (default: the smtpd table name)')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics there (overrides metrics.listen; host defaults to 127.0.0.1)')
    .addOption(new Option('--log-level <level>', 'overrides log.level').choices(LOG_LEVELS))
    .action(async (config: string | undefined, flags: SmtpdFlags & { config?: string }) =>
      (await import('./commands/smtpd.js')).smtpdCommand(config ?? configFile(flags), flags),
    );

  program
    .command('sockmap')
    .description('socketmap server for Postfix and Sendmail')
    .option('--listen <address>', 'inet:HOST:PORT or unix:PATH, repeatable (default: the configuration\'s, else inet:127.0.0.1:8788)', collect)
    .addOption(new Option('--dialect <client>', 'the client on the --listen addresses').choices(['postfix', 'sendmail']))
    .addOption(new Option('--socket-mode <mode>', 'permissions of the --listen unix: sockets, octal (default 0660)').argParser(socketMode))
    .option('--socket-owner <user>', 'owner of the --listen unix: sockets, a user name or id (default: the process\'s)')
    .option('--socket-group <group>', 'group of the --listen unix: sockets, a group name or id (default: the process\'s)')
    .addOption(configOption('; SIGHUP reloads it'))
    .option('--upstream <url>', 'function URL (overrides upstream.url)')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics there (overrides metrics.listen; host defaults to 127.0.0.1)')
    .addOption(new Option('--log-level <level>', 'overrides log.level').choices(LOG_LEVELS))
    .option('--any-table', 'serve a map not configured as the table of that name, on UNIX listeners (overrides sockmap.any_table)')
    .option('--any-table-inet', 'with --any-table, on inet listeners too: every local user reads every table (overrides sockmap.any_table_inet)')
    .action(async (flags: SockmapFlags) => (await import('./commands/sockmap.js')).sockmapCommand({ ...flags, config: configFile(flags) }));

  program
    .command('backend')
    .description('the cloud function served locally over HTTP, on embedded DynamoDB (dynalite)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <n>', 'port to listen on').argParser(port).default(8787))
    .option('--data <dir>', 'keep the data in this directory (LevelDB)')
    .option('--memory', 'keep the data in memory (the default)')
    .addOption(new Option('--regions <n>', 'regions to simulate: the home one and n-1 replicas on the next ports, filled with random delays').argParser(regionCount).default(1))
    .addOption(new Option('--replication-ms <ms>', 'with --regions: longest replication delay of an item').argParser(port).default(1000))
    .option('--region <region>', 'the region signatures must be scoped to', 'us-east-1')
    .option('--identities <file>', 'further key pairs with the IAM principal each signs as, and per-table read access (TOML or JSON)')
    .option('--metrics <[host:]port>', 'serve what AWS would bill (invocations, billed duration, request units) as Prometheus metrics there')
    .action(async (flags: BackendFlags) => (await import('./commands/backend.js')).backendCommand(flags));

  program
    .command('demo')
    .description('the complete local stack with sample tables (what `npm start` runs)')
    .addOption(new Option('--port <n>', 'backend port').argParser(port).default(8787))
    .addOption(new Option('--sockmap-port <n>', 'socketmap port on 127.0.0.1').argParser(port).default(DEFAULT_PORT))
    .option('--data <dir>', 'keep the data in this directory')
    .action(async (flags: { port: number; sockmapPort: number; data?: string }) => (await import('./commands/demo.js')).demoCommand(flags));

  program
    .command('load')
    .description('replace a table transactionally from an OpenSMTPD table(5) or Postfix postmap source file')
    .argument('<table>', 'cloud table to replace')
    .argument('<file>', "table file ('-': standard input)")
    .addOption(new Option('--service <service>', 'service the entries are for (required for a new table); auth: user → password hash, checked, stored as credentials').choices([...servicesWhere('declarable'), 'auth']))
    .addOption(new Option('--format <format>', 'file format (jsonl: one {"key","value"} JSON object a line, keys exactly as written)').choices(TABLE_FORMATS).default('smtpd'))
    .option('--keep-case', 'do not fold keys to lower case (smtpd and postmap fold them)')
    .option('--dry-run', 'stop after validation: show what would change (and whether the load would be refused), change nothing')
    .option('--allow-unhashed', 'with --service auth: load values that are no password hash the proxy can verify')
    .option('--allow-shrink', 'load even if the table would be emptied or lose more than --max-remove of its entries')
    .addOption(new Option('--max-remove <percent>', 'refuse a load that removes more than this share of the entries (default: refuse only an empty result)').argParser(percent))
    .option('--confirm-with <keys>', 'look these keys up (comma-separated, repeatable) through the reader before committing; roll back unless all are found', collect)
    .addOption(adminOption())
    .option('--upstream <url>', 'reader function URL for --confirm-with (overrides upstream.url)')
    .addOption(configOption())
    .action(async (table: string, file: string, flags: LoadFlags) => (await import('./commands/load.js')).loadCommand(table, file, { ...flags, config: configFile(flags) }));

  program
    .command('show')
    .description("print a table's active generation in a form load reads back: table(5), or JSON Lines when that cannot carry every entry")
    .argument('<table>')
    .addOption(new Option('--format <format>', 'output format (auto: smtpd if it carries every entry exactly, else jsonl)').choices(['auto', ...TABLE_FORMATS]).default('auto'))
    .addOption(adminOption())
    .addOption(configOption())
    .action(async (table: string, flags: ShowFlags) => (await import('./commands/show.js')).showCommand(table, { ...flags, config: configFile(flags) }));

  program
    .command('hash')
    .description('hash a password (read from the terminal or standard input, never the command line) for an auth table: USER HASH lines')
    .addOption(new Option('--scheme <scheme>', 'bcrypt (OpenBSD smtpctl encrypt) or sha512 (sha512-crypt, glibc)').choices(HASH_SCHEMES).default('bcrypt'))
    .addOption(new Option('--rounds <n>', 'bcrypt cost (4-15, default 10) or sha512-crypt rounds (1000-500000, default 5000)').argParser(integer))
    .action(async (flags: HashFlags) => (await import('./commands/hash.js')).hashCommand(flags));

  program
    .command('rollback')
    .description('undo the last commit of a table while its previous generation is kept (again: redo)')
    .argument('<table>')
    .addOption(adminOption())
    .addOption(configOption())
    .action(async (table: string, flags: AdminFlags) => (await import('./commands/rollback.js')).rollbackCommand(table, { ...flags, config: configFile(flags) }));

  program
    .command('status')
    .description('every table: generation, entries, transaction in progress, and what the reader answers; and what running proxies serve')
    .addOption(adminOption())
    .option('--upstream <url>', 'reader function URL (overrides upstream.url)')
    .option('--proxy <url>', "a running proxy to report on, by its metrics endpoint; repeatable (default: the configuration's metrics.listen)", collect)
    // The name it had first: scripts that use it keep working.
    .addOption(new Option('--metrics <url>').argParser(collect).hideHelp())
    .addOption(configOption())
    .action(async (flags: StatusFlags & { metrics?: string[] }) =>
      (await import('./commands/status.js')).statusCommand({ ...flags, config: configFile(flags), proxy: [...(flags.proxy ?? []), ...(flags.metrics ?? [])] }),
    );

  return program;
}

function adminOption(): Option {
  return new Option('--admin <url>', 'admin function URL (overrides admin.url)');
}

/** -c/--config, the same on every command that reads the configuration. */
function configOption(more = ''): Option {
  return new Option('-c, --config <file>', `configuration file (TOML or JSON; default: $CLOUDTABLE_CONFIG, else the defaults)${more}`);
}

/** The configuration file a command reads: -c/--config, else $CLOUDTABLE_CONFIG. */
function configFile(flags: { config?: string }): string | undefined {
  return flags.config ?? (process.env.CLOUDTABLE_CONFIG || undefined);
}

/** A repeatable option's values; no default, so that help shows none. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    // Commander has already said what is wrong with the command line.
    if (!(err instanceof CommanderError)) reportFailure(undefined, err);
    process.exit(exitCodeOf(err));
  }
}

/** --socket-mode: an octal mode, as the file's `mode` key takes it. */
function socketMode(value: string): number {
  try {
    return fileMode.parse(value, '--socket-mode');
  } catch {
    throw new InvalidArgumentError('an octal mode from 0000 to 0777, e.g. 0660');
  }
}

/** --regions: 1 (the default) to 9. */
function regionCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new InvalidArgumentError('regions must be an integer from 1 to 9');
  return n;
}
