// Plays systemd's part in socket activation: a process that holds a
// listening TCP socket, never accepts on it, and starts service instances
// with it as descriptor 3 (LISTEN_FDS=1, LISTEN_PID = the instance's pid),
// as systemd does for a .socket unit across restarts of its .service.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ENV } from './backend.js';
import { waitUntil } from './wait.js';
import { CLI, ROOT } from './cli.js';
import { SERVE_ANY_TABLE } from './sockmap.js';

// Each line on stdin names a log file and starts one instance writing to it;
// the holder answers with the instance's pid. `exec` keeps the pid, so
// LISTEN_PID=$$ names the instance itself.
const HOLDER = `while read -r log; do
  LISTEN_FDS=1 sh -c 'LISTEN_PID=$$ exec "$@"' sh "$@" >"$log" 2>&1 </dev/null &
  echo $!
done`;

export interface Instance {
  pid: number;
  log: string;
  /** The instance's output so far (its stdout and stderr). */
  output(): string;
  /** Waits until the output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export class SocketHolder {
  private readonly dir = mkdtempSync(join(tmpdir(), 'cloudtable-holder-'));
  private count = 0;
  private pids: string[] = [];
  private pidWaiters: Array<(pid: string) => void> = [];

  private constructor(
    private readonly holder: ChildProcessWithoutNullStreams,
    readonly port: number,
  ) {
    holder.stdout.setEncoding('utf8');
    let buf = '';
    holder.stdout.on('data', (s: string) => {
      buf += s;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const pid = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const w = this.pidWaiters.shift();
        if (w) w(pid);
        else this.pids.push(pid);
      }
    });
  }

  /**
   * Binds 127.0.0.1 on an ephemeral port and hands the socket to the holder;
   * this process keeps no copy. `fdName` is the socket unit's FileDescriptorName=.
   */
  static async start(args: string[], fdName?: string): Promise<SocketHolder> {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    // Node has no public accessor for a listening socket's descriptor.
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const holder = spawn('sh', ['-c', HOLDER, 'holder', ...CLI, 'sockmap', ...args, ...SERVE_ANY_TABLE], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...TEST_ENV, ...(fdName !== undefined && { LISTEN_FDNAMES: fdName }) },
      stdio: ['pipe', 'pipe', 'inherit', fd],
    }) as ChildProcessWithoutNullStreams;
    server.close();
    return new SocketHolder(holder, port);
  }

  /** Starts one more instance on the held socket (like `systemctl start` of the service). */
  async startInstance(): Promise<Instance> {
    const log = join(this.dir, `instance-${++this.count}.log`);
    this.holder.stdin.write(`${log}\n`);
    const pid = Number(this.pids.shift() ?? (await new Promise<string>((resolve) => this.pidWaiters.push(resolve))));
    const output = (): string => {
      try {
        return readFileSync(log, 'utf8');
      } catch {
        return '';
      }
    };
    return {
      pid,
      log,
      output,
      waitFor: async (pattern, timeoutMs = 15_000) => {
        await waitUntil(() => pattern.test(output()), { timeoutMs, what: () => `instance ${pid} to print ${pattern}; its output: ${output().slice(-2000)}` });
      },
    };
  }

  /** Ends the holder; instances still running keep the socket until they exit. */
  close(): void {
    this.holder.stdin.end();
  }
}
