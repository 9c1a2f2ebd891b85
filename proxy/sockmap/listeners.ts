// The listening sockets: bound here, or inherited from systemd (socket
// activation, sd_listen_fds(3)). Inherited sockets are how a restart or an
// upgrade keeps accepting: systemd holds them while the process is replaced
// and connections wait in the backlog instead of being refused, which
// matters because Sendmail never retries.

import { chmodSync, lchownSync, lstatSync, mkdtempSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { SockmapListenConfig } from '../config.js';
import { ConfigError } from '../config/kinds.js';
import { DIALECTS, type Dialect } from './dialect.js';
import { formatListenAddress, parseListenAddress } from '../addresses/listen-address.js';
import { groupId, userId } from './unix-ids.js';

export interface Listener {
  server: Server;
  /** The address, or `fd:N (NAME)` for an inherited UNIX socket. */
  name: string;
  dialect: Dialect;
  activated: boolean;
  /** An inet socket: any local user may connect, whatever the configuration says of files. */
  inet: boolean;
  /** The socket file this process bound (and removes when it stops listening). */
  socketFile?: string;
}

/** sd_listen_fds(3): the first inherited descriptor. */
const SD_LISTEN_FDS_START = 3;

export interface ActivatedFd {
  fd: number;
  /** FileDescriptorName= of the socket unit, if any. */
  name: string | undefined;
}

/**
 * The descriptors systemd passed (LISTEN_PID must be this process), and the
 * variables removed so that no child process takes them for its own.
 */
export function takeActivatedFds(env: NodeJS.ProcessEnv = process.env): ActivatedFd[] {
  const pid = env.LISTEN_PID;
  const count = Number(env.LISTEN_FDS);
  const names = env.LISTEN_FDNAMES?.split(':');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pid !== String(process.pid) || !Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => ({ fd: SD_LISTEN_FDS_START + i, name: names?.[i] }));
}

export type OnConnection = (socket: Socket, listener: Listener) => void;

/**
 * With inherited sockets, only those are served, and the configured
 * listeners only describe them: an inherited socket takes the dialect of its
 * FileDescriptorName= when that names a dialect, else that of the configured
 * listener with the same inet address, else postfix. Without, every
 * configured listener is bound.
 */
export async function openListeners(configs: SockmapListenConfig[], activated: ActivatedFd[], onConnection: OnConnection): Promise<Listener[]> {
  const out: Listener[] = [];
  try {
    if (activated.length > 0) {
      for (const a of activated) out.push(await openInherited(a, configs, onConnection));
    } else {
      for (const c of configs) out.push(await bind(c, onConnection));
    }
  } catch (err) {
    closeListeners(out);
    throw err;
  }
  return out;
}

/**
 * Stops accepting at once (open connections are not waited for). A UNIX
 * socket this process bound is removed; an inherited one is systemd's and stays.
 */
export function closeListeners(listeners: Listener[]): void {
  for (const l of listeners) {
    if (!l.server.listening) continue;
    l.server.close();
    // Bound elsewhere and renamed here: Node would remove the path it bound, not this one.
    if (l.socketFile !== undefined) {
      try {
        unlinkSync(l.socketFile);
      } catch {
        // already gone
      }
    }
  }
}

/** A listener whose name and dialect are settled once it listens. */
function newListener(onConnection: OnConnection, name: string, dialect: Dialect, activated: boolean, inet: boolean): Listener {
  // Half-open: a client that shuts down its side still gets the answers to what it sent.
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => onConnection(socket, listener));
  const listener: Listener = { server, name, dialect, activated, inet };
  return listener;
}

async function openInherited(a: ActivatedFd, configs: SockmapListenConfig[], onConnection: OnConnection): Promise<Listener> {
  const listener = newListener(onConnection, `fd:${a.fd}`, 'postfix', true, false);
  await listen(listener.server, { fd: a.fd }, `inherited descriptor ${a.fd}`);
  const addr = listener.server.address();
  const inet = typeof addr === 'object' && addr !== null ? formatListenAddress({ kind: 'inet', host: addr.address, port: addr.port }) : undefined;
  listener.name = inet ?? `fd:${a.fd}${a.name ? ` (${a.name})` : ''}`;
  listener.inet = inet !== undefined;
  const byAddress = inet === undefined ? undefined : configs.find((c) => sameAddress(c.address, inet));
  listener.dialect = (DIALECTS as readonly string[]).includes(a.name ?? '') ? (a.name as Dialect) : (byAddress?.dialect ?? 'postfix');
  return listener;
}

async function bind(c: SockmapListenConfig, onConnection: OnConnection): Promise<Listener> {
  const address = parseListenAddress(c.address);
  const listener = newListener(onConnection, formatListenAddress(address), c.dialect, false, address.kind === 'inet');
  if (address.kind === 'inet') {
    await listen(listener.server, { host: address.host, port: address.port }, listener.name);
    const bound = listener.server.address();
    if (typeof bound === 'object' && bound !== null) listener.name = formatListenAddress({ kind: 'inet', host: address.host, port: bound.port });
    return listener;
  }
  await removeStaleSocket(address.path);
  // Bound in a directory only this process's user can enter, given its mode
  // and owner there, then renamed into place: the socket is never
  // connectable with other permissions than configured, whatever the umask,
  // and nobody can swap a symlink in under the chmod and chown.
  let owner = -1;
  let group = -1;
  try {
    if (c.owner !== undefined) owner = userId(c.owner);
    if (c.group !== undefined) group = groupId(c.group);
  } catch (err) {
    // The configuration names a user or group this host does not have.
    throw new ConfigError(`${listener.name}: ${(err as Error).message}`);
  }
  let privateDir: string;
  try {
    privateDir = mkdtempSync(join(dirname(address.path), `.${basename(address.path)}.`));
  } catch (err) {
    throw new Error(`cannot listen on ${listener.name}: ${(err as Error).message}`);
  }
  const staging = join(privateDir, 'socket');
  try {
    await listen(listener.server, { path: staging }, listener.name);
    try {
      chmodSync(staging, c.mode);
      if (owner !== -1 || group !== -1) lchownSync(staging, owner, group);
      renameSync(staging, address.path);
    } catch (err) {
      closeListeners([listener]);
      throw new Error(`${listener.name}: ${(err as Error).message}`);
    }
  } finally {
    try {
      unlinkSync(staging);
    } catch {
      // renamed away, or never made
    }
    rmdirSync(privateDir);
  }
  listener.socketFile = address.path;
  return listener;
}

function listen(server: Server, options: { fd: number } | { host: string; port: number } | { path: string }, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen on ${what}: ${err.message}`));
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A socket file nobody listens on is left over from a crash: replace it. A live one belongs to another server. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket: not replacing it`);
  const live = await new Promise<boolean | Error>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : err));
  });
  if (live === true) throw new Error(`${path}: another server is listening on this socket`);
  if (live instanceof Error) throw new Error(`${path}: cannot tell whether the socket is in use: ${live.message}`);
  unlinkSync(path);
}

function sameAddress(configured: string, bound: string): boolean {
  try {
    return formatListenAddress(parseListenAddress(configured)) === bound;
  } catch {
    return false;
  }
}
