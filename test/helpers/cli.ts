// Runs the real `cloudtable` command line from source and collects its output.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI from source, so tests never run a stale build. */
export const CLI = [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../../proxy/bin/cloudtable.ts', import.meta.url))] as const;

/**
 * The user configuration directory of the children ($XDG_CONFIG_HOME), one
 * per test process: a backend's generated key pair is left there, never in
 * the real ~/.config, and no child signs with a pair a real backend left.
 */
let configHome: string | undefined;

/** `stderr`: a file descriptor for the child's stderr instead of a pipe to the test (then `child.stderr` is null). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, stderr?: number): ChildProcessWithoutNullStreams {
  configHome ??= mkdtempSync(join(tmpdir(), 'cloudtable-config-home-'));
  return spawn(CLI[0], [...CLI.slice(1), ...args], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', XDG_CONFIG_HOME: configHome, ...env },
    stdio: ['pipe', 'pipe', stderr ?? 'pipe'],
  }) as ChildProcessWithoutNullStreams;
}

/** Resolves with the exit code (or signal name) of a child. */
export function exited(child: ChildProcessWithoutNullStreams): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** A CLI child whose output is collected and can be waited for. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly waiters = new Set<() => void>();
  /** Settles once the process has exited and its output is all read. */
  private readonly closed: Promise<number | string>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawnCli(args, env);
    this.closed = new Promise((resolve) => this.child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
    const on = (which: 'stdout' | 'stderr') => (b: Buffer) => {
      this[which] += b.toString();
      for (const w of this.waiters) w();
    };
    this.child.stdout.on('data', on('stdout'));
    this.child.stderr.on('data', on('stderr'));
  }

  /** Waits until stdout matches `re`; fails if the process exits first or the time runs out. */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.child.off('exit', gone);
      };
      const check = (): void => {
        const m = re.exec(this.stdout);
        if (m) {
          done();
          resolve(m);
        }
      };
      const gone = (): void => {
        done();
        reject(new Error(`exited before ${re}; stdout: ${this.stdout}; stderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${re}; stdout: ${this.stdout}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiters.add(check);
      this.child.once('exit', gone);
      check();
    });
  }

  async result(): Promise<CliResult> {
    const code = await this.closed;
    return { code, stdout: this.stdout, stderr: this.stderr };
  }
}

/** Runs the CLI to completion, with `input` on its stdin. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input = ''): Promise<CliResult> {
  const p = new CliProcess(args, env);
  p.child.stdin.end(input);
  return p.result();
}
