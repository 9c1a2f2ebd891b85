// Runs `cloudtable sockmap` as a child process and talks socketmap to it
// with the exact bytes Postfix and Sendmail send.

import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import type { Config } from '../../proxy/config.js';
import { silentLogger } from '../../proxy/log.js';
import { createRuntime } from '../../proxy/runtime.js';
import { parseListenAddress } from '../../proxy/addresses/listen-address.js';
import { netstring, NetstringReader } from '../../proxy/sockmap/netstring.js';
import { SockmapServer, sockmapSettings } from '../../proxy/sockmap/server.js';
import { TEST_CREDENTIALS, TEST_ENV } from './backend.js';
import { exited, spawnCli } from './cli.js';

export interface RunningSockmap {
  child: ChildProcessWithoutNullStreams;
  /** `inet:127.0.0.1:PORT` / `unix:PATH`, as the server printed them (ports resolved). */
  listeners: string[];
  readonly stderr: string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Tests of everything but the serving policy ask for tables by name on
 * loopback inet listeners: they opt in to serving every table there, as an
 * operator would (test/sockmap-exposure.test.ts tests the policy itself).
 */
export const SERVE_ANY_TABLE = ['--any-table', '--any-table-inet'] as const;

/**
 * Starts `cloudtable sockmap ARGS…` and waits until it prints one `listening`
 * line per listener; with SERVE_ANY_TABLE unless `anyTable` is false.
 */
export async function startSockmap(args: string[], opts: { listeners?: number; env?: NodeJS.ProcessEnv; anyTable?: boolean } = {}): Promise<RunningSockmap> {
  const child = spawnCli(['sockmap', ...args, ...(opts.anyTable === false ? [] : SERVE_ANY_TABLE)], { ...TEST_ENV, ...opts.env });
  return attach(child, opts.listeners ?? Math.max(1, args.filter((a) => a === '--listen').length));
}

/** Waits for a child running `cloudtable sockmap` to be listening. */
export async function attach(child: ChildProcessWithoutNullStreams, count: number): Promise<RunningSockmap> {
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr += s));
  const listeners: string[] = [];
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`sockmap did not start listening; stderr: ${stderr.slice(-2000)}`)), 15_000);
    const onData = (s: string): void => {
      buf += s;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = /^listening (\S+) /.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m) listeners.push(m[1]!);
      }
      if (listeners.length >= count) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sockmap exited with ${code}; stderr: ${stderr.slice(-2000)}`));
    });
  });
  return {
    child,
    listeners,
    get stderr() {
      return stderr;
    },
    stop: (signal = 'SIGTERM') => {
      const done = exited(child);
      child.kill(signal);
      return done;
    },
  };
}

export interface InProcessSockmap {
  server: SockmapServer;
  /** The first listener's address. */
  address: string;
  close(): Promise<void>;
}

/** The socketmap server in this process (to watch its connections and buffers), on the real HTTP client. */
export async function sockmapInProcess(config: Config): Promise<InProcessSockmap> {
  config = { ...config, sockmap: { ...config.sockmap, anyTable: true, anyTableInet: true } };
  const runtime = createRuntime(config, silentLogger, () => Promise.resolve(TEST_CREDENTIALS));
  const server = new SockmapServer(sockmapSettings(config.sockmap, config.upstream.deadlineMs, runtime.tables, silentLogger), silentLogger);
  const [first] = await server.listen(config.sockmap.listen);
  return {
    server,
    address: first!.name,
    close: async () => {
      await server.stop();
      await runtime.close();
    },
  };
}

/** One client connection, as Postfix or Sendmail keeps one: netstring requests, replies read in order. */
export class SockmapClient {
  private readonly received: Buffer[] = [];
  readonly closed: Promise<void>;
  private readonly reader = new NetstringReader(2_000_000);
  private readonly replies: Array<{ payload: string; at: number }> = [];
  private wake: (() => void) | undefined;
  private closedYet = false;
  private malformed: string | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      this.reader.push(chunk);
      for (let f = this.reader.next(); f !== undefined; f = this.reader.next()) {
        if ('error' in f) this.malformed = f.error;
        else this.replies.push({ payload: f.payload.toString('utf8'), at: performance.now() });
      }
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedYet = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on('error', () => {});
  }

  /** The server (or this side) has closed the connection. */
  get isClosed(): boolean {
    return this.closedYet;
  }

  /** Every byte received, for byte-exact assertions. */
  get raw(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Connects to `inet:HOST:PORT` or `unix:PATH`. */
  static connect(address: string): Promise<SockmapClient> {
    const a = parseListenAddress(address);
    return new Promise((resolve, reject) => {
      const socket = a.kind === 'inet' ? connect(a.port, a.host) : connect(a.path);
      socket.once('connect', () => resolve(new SockmapClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends `MAP KEY` as both clients do and waits for its reply payload. */
  async request(map: string, key: string, timeoutMs?: number): Promise<string> {
    this.write(netstring(`${map} ${key}`));
    const [reply] = await this.next(1, timeoutMs);
    return reply!;
  }

  /** Waits for `n` more reply payloads. */
  async next(n: number, timeoutMs = 10_000): Promise<string[]> {
    return (await this.nextTimed(n, timeoutMs)).map((r) => r.payload);
  }

  /** Waits for `n` more replies, each with the performance.now() of its arrival. */
  async nextTimed(n: number, timeoutMs = 10_000): Promise<Array<{ payload: string; at: number }>> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n) {
      if (this.malformed) throw new Error(`the server sent a malformed netstring: ${this.malformed}`);
      const left = deadline - Date.now();
      if (left <= 0 || this.closedYet) throw new Error(`${this.closedYet ? 'connection closed' : 'timed out'} waiting for ${n} replies; have ${this.replies.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.replies.splice(0, n);
  }

  close(): void {
    this.socket.destroy();
  }
}
