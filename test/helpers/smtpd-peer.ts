// Plays smtpd's side of the table protocol against a `cloudtable smtpd`
// child, with the exact bytes smtpd 7.8 sends.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { TEST_ENV } from './backend.js';
import { exited, spawnCli } from './cli.js';
import { isMetricsListening, metricsBase, parseLogs, type LogLine } from './logs.js';

export type { LogLine };

export const HANDSHAKE = (table: string): string =>
  `config|smtpd-version|7.8.0-portable\nconfig|protocol|0.1\nconfig|tablename|${table}\nconfig|ready\n`;

export function request(table: string, op: string, service: string | undefined, id: string, key?: string): string {
  const ts = '1713795082.354255';
  if (op === 'update') return `table|0.1|${ts}|${table}|update|${id}\n`;
  if (op === 'fetch') return `table|0.1|${ts}|${table}|fetch|${service}|${id}\n`;
  return `table|0.1|${ts}|${table}|${op}|${service}|${id}|${key}\n`;
}

export function writeConfig(toml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cloudtable-test-'));
  const path = join(dir, 'cloudtable.toml');
  writeFileSync(path, toml);
  return path;
}

export class SmtpdPeer {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = '';
  private nextId = 0x5eed0000;
  private waiters: Array<() => void> = [];
  stderr = '';

  /** `cloudtable smtpd ARGS` from source, or `command` (a program and its first arguments) with `args`. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, command?: readonly string[]) {
    this.child = command
      ? spawn(command[0]!, [...command.slice(1), ...args], { env: { ...process.env, ...TEST_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawnCli(['smtpd', ...args], { ...TEST_ENV, ...env });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (s: string) => {
      this.buf += s;
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      this.stderr += s;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Spawns `cloudtable smtpd` with a configuration pointing at `upstream`. */
  static withConfig(upstream: string, extraToml = ''): SmtpdPeer {
    return new SmtpdPeer([writeConfig(`[upstream]\nurl = "${upstream}"\n${extraToml}`)]);
  }

  write(bytes: string): void {
    this.child.stdin.write(bytes);
  }

  /** Everything received so far, as raw text. */
  get received(): string {
    return this.buf;
  }

  /** Waits for `n` complete lines and takes them off the buffer. */
  async lines(n: number, timeoutMs = 10_000): Promise<string[]> {
    return this.until(
      () => {
        const parts = this.buf.split('\n');
        if (parts.length - 1 < n) return undefined;
        this.buf = parts.slice(n).join('\n');
        return parts.slice(0, n);
      },
      timeoutMs,
      () => `${n} lines; have ${JSON.stringify(this.buf.slice(0, 2000))}`,
    );
  }

  /** The log lines (pino JSON on stderr) so far. */
  get logs(): LogLine[] {
    return parseLogs(this.stderr);
  }

  /** Waits for a log line that `match` accepts. */
  log(match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return this.until(() => this.logs.find(match), timeoutMs, () => 'a log line');
  }

  /** The metrics endpoint's base URL, once the process logged that it listens. */
  async metricsUrl(): Promise<string> {
    return metricsBase(await this.log(isMetricsListening));
  }

  private async until<T>(ready: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = ready();
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}; stderr: ${this.stderr.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Sends one request as smtpd would and returns its reply after `OP-result|ID|`
   * (`found|VALUE`, `found`, `not-found`, `error…`), checking the ID.
   */
  async ask(table: string, op: 'lookup' | 'check' | 'fetch' | 'update', service?: string, key?: string): Promise<string> {
    const id = (this.nextId++).toString(16);
    this.write(request(table, op, service, id, key));
    const [line] = await this.lines(1);
    const prefix = `${op}-result|${id}|`;
    if (!line!.startsWith(prefix)) throw new Error(`expected ${prefix}…, got ${JSON.stringify(line)}`);
    return line!.slice(prefix.length);
  }

  /** Sends smtpd's handshake and returns the register lines, up to and including register|ready (process start included in the time allowed). */
  /** The default wait covers a process start (tsx compiling the CLI) on a busy machine; nothing is timed here. */
  async handshake(table: string, timeoutMs = 30_000): Promise<string[]> {
    this.write(HANDSHAKE(table));
    const out: string[] = [];
    for (;;) {
      const [line] = await this.lines(1, timeoutMs);
      out.push(line!);
      if (line === 'register|ready') return out;
    }
  }

  async close(): Promise<number | string> {
    this.child.stdin.end();
    const code = await exited(this.child);
    return code;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
