// `cloudtable demo` (`npm start`): the local backend with sample tables and a
// socketmap server in front of it, in one process, and ready-to-paste commands.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend } from '../../lambda/local/backend.js';
import { replaceTable } from '../../lambda/store/replace.js';
import { defaultConfig } from '../config.js';
import { createLogger } from '../log.js';
import { createRuntime } from '../runtime.js';
import { SockmapServer, sockmapSettings } from '../sockmap/server.js';
import { untilSignal } from '../process/until-signal.js';
import { forgetLocalBackend, recordLocalBackend } from '../http/local-backend-file.js';
import { localCredentials } from './local-credentials.js';
import { SAMPLE_TABLES } from './sample-tables.js';

/** `npm start`: the whole local stack on embedded DynamoDB, with sample tables. */
export async function demoCommand(flags: { port: number; sockmapPort: number; data?: string }): Promise<void> {
  const log = createLogger('warn', 'cloudtable-demo');
  // Never the environment's AWS pair: the demo makes one (or takes CLOUDTABLE_LOCAL_*, named in what it prints).
  const { credentials, source } = localCredentials(process.env, { aws: false });
  const backend = await startBackend({
    credentials,
    port: flags.port,
    ...(flags.data && { dataDir: flags.data }),
    onError: (err) => log.error({ err: String(err) }, 'handler failed'),
  });
  for (const t of SAMPLE_TABLES) await replaceTable(backend.store, t.name, t.entries, t.service);
  // A generated pair is left where the other commands of this user find it, never printed; CLOUDTABLE_LOCAL_* are the user's own.
  const file = source === 'generated' ? recordLocalBackend([backend.url], credentials) : (forgetLocalBackend([backend.url]), undefined);

  // The socketmap server in front of it, as `cloudtable sockmap` runs it.
  const config = defaultConfig();
  config.upstream.url = backend.url;
  config.sockmap.listen = [{ address: `inet:127.0.0.1:${flags.sockmapPort}`, dialect: 'postfix', mode: 0o660 }];
  // The sample tables by name, but the credentials one: an inet listener is open to every local user.
  for (const t of SAMPLE_TABLES) {
    if (t.service !== 'credentials') config.sockmap.maps[t.name] = { table: t.name, service: 'string', foldCase: false, notFound: 'NOTFOUND', allowInet: false };
  }
  // Replicas of its own: the demo's tables live as long as it does, and never mix with a host's.
  config.replica.dir ??= process.env.CLOUDTABLE_REPLICA_DIR || mkdtempSync(join(tmpdir(), 'cloudtable-demo-replicas-'));
  const runtime = createRuntime(config, log, () => Promise.resolve(credentials));
  const sockmap = new SockmapServer(sockmapSettings(config.sockmap, config.upstream.deadlineMs, runtime.tables, log), log);
  const [listener] = await sockmap.listen(config.sockmap.listen);
  runtime.frontEndUp();

  const bin = relative(process.cwd(), fileURLToPath(new URL('dist/proxy/bin/cloudtable.js', packageRoot())));
  // AWS_ACCESS_KEY_ID set in the user's shell would win over the file: the pasted command clears it.
  const env =
    (file !== undefined ? 'AWS_ACCESS_KEY_ID=' : 'AWS_ACCESS_KEY_ID="$CLOUDTABLE_LOCAL_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY"') +
    ` CLOUDTABLE_REPLICA_DIR=${config.replica.dir}`;
  const handshake = 'config|smtpd-version|7.8.0-portable\\nconfig|protocol|0.1\\nconfig|tablename|aliases\\nconfig|ready\\n';
  // Ctrl-C is handled from the moment the commands are printed: someone (or a test) may act on them at once.
  const stopped = untilSignal();
  process.stdout.write(
    [
      `cloudtable local stack is up (embedded DynamoDB, ${flags.data ? `data in ${flags.data}` : 'in memory'}).`,
      ``,
      `  function (backend)  ${backend.url}`,
      `  socketmap           ${listener!.name} (Postfix dialect)`,
      `  replicas            ${config.replica.dir}`,
      `  tables              ${SAMPLE_TABLES.map((t) => `${t.name} (${t.service}, ${t.entries.length})`).join(', ')}`,
      ``,
      `Ask it as OpenSMTPD would, from another terminal:`,
      ``,
      `  printf '${handshake}table|0.1|0|aliases|lookup|alias|0000000a|abuse\\n' \\`,
      `    | ${env} node ${bin} smtpd --upstream ${backend.url}`,
      ``,
      `Ask it as Postfix would (postmap is in the postfix package):`,
      ``,
      `  ${postmapCommand(`socketmap:${listener!.name}:virtual`)}`,
      ``,
      ...(file !== undefined
        ? [`Requests are signed with the generated key pair ${credentials.accessKeyId}, in ${file} (readable by you only),`, `where cloudtable load, show, status and the proxies find it.`, ``]
        : []),
      `Ctrl-C stops it.`,
      ``,
    ].join('\n'),
  );
  await stopped;
  process.stdout.write('stopping\n');
  await sockmap.stop();
  await runtime.close();
  await backend.close();
}

/** postmap reads main.cf first; on a host without Postfix set up, an empty one in a scratch directory does. */
function postmapCommand(map: string): string {
  if (existsSync('/etc/postfix/main.cf')) return `postmap -q alice@example.org ${map}`;
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-postfix-'));
  writeFileSync(join(dir, 'main.cf'), '');
  return `postmap -c ${dir} -q alice@example.org ${map}`;
}

/** The package root, from this file's place in the source tree or in dist/. */
function packageRoot(): URL {
  const here = new URL('.', import.meta.url);
  return here.pathname.includes('/dist/') ? new URL('../../../', here) : new URL('../../', here);
}
