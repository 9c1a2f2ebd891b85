// Drives a `cloudtable smtpd` process over stdio as smtpd does: the
// handshake, then lookups with a chosen number outstanding.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * Drives a process that speaks the smtpd table protocol on stdio, as smtpd
 * would, keeping `depth` lookups outstanding (1 = smtpd 7.8's own behaviour).
 */
export class StdioDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private onData: ((s: string) => void) | undefined;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (s: string) => this.onData?.(s));
    this.child.stderr.resume();
  }

  /** Sends raw text and resolves once `n` lines came back. */
  private exchange(text: string, n: number): Promise<string[]> {
    return new Promise((resolve) => {
      let buf = '';
      this.onData = (s) => {
        buf += s;
        const lines = buf.split('\n');
        if (lines.length - 1 >= n) {
          this.onData = undefined;
          resolve(lines.slice(0, n));
        }
      };
      this.child.stdin.write(text);
    });
  }

  async handshake(table: string): Promise<void> {
    const res = new Promise<void>((resolve) => {
      let buf = '';
      this.onData = (s) => {
        buf += s;
        if (buf.includes('register|ready\n')) {
          this.onData = undefined;
          resolve();
        }
      };
    });
    this.child.stdin.write(`config|smtpd-version|7.8.0-portable\nconfig|protocol|0.1\nconfig|tablename|${table}\nconfig|ready\n`);
    await res;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Looks up every key once, at most `window` outstanding, and checks each came back found. */
  async warm(table: string, keys: string[], window = keys.length): Promise<void> {
    for (let at = 0; at < keys.length; at += window) {
      const part = keys.slice(at, at + window);
      const lines = await this.exchange(part.map((k, i) => line(table, at + i, k)).join(''), part.length);
      const bad = lines.find((l) => !l.includes('|found|'));
      if (bad) throw new Error(`warm-up answer not found: ${bad}`);
    }
  }

  /** Lookups/s over `ms` with `depth` outstanding, cycling through `keys`. */
  run(table: string, keys: string[], depth: number, ms: number): Promise<{ perSecond: number; latencies: number[] }> {
    return new Promise((resolve) => {
      let next = 0;
      let done = 0;
      let buf = '';
      const sentAt: number[] = [];
      const latencies: number[] = [];
      const t0 = performance.now();
      const end = t0 + ms;
      const send = (k: number): void => {
        let text = '';
        for (let i = 0; i < k; i++) {
          sentAt[next % 65536] = performance.now();
          text += line(table, next, keys[next % keys.length]!);
          next++;
        }
        this.child.stdin.write(text);
      };
      this.onData = (s) => {
        buf += s;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        const now = performance.now();
        for (const p of parts) {
          const id = parseInt(p.split('|')[1]!, 16);
          latencies.push(now - sentAt[id % 65536]!);
        }
        done += parts.length;
        if (now < end) send(parts.length);
        else if (done === next) {
          this.onData = undefined;
          resolve({ perSecond: (done / (now - t0)) * 1000, latencies });
        }
      };
      send(depth);
    });
  }

  /** Asks each of `keys` once, one at a time (as smtpd does), checking each was found; the latency of each. */
  async runOnce(table: string, keys: string[]): Promise<{ latencies: number[] }> {
    const latencies: number[] = [];
    for (const [i, key] of keys.entries()) {
      const t0 = performance.now();
      const [reply] = await this.exchange(line(table, i, key), 1);
      latencies.push(performance.now() - t0);
      if (!reply!.includes('|found|')) throw new Error(`answer not found: ${reply}`);
    }
    return { latencies };
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

function line(table: string, i: number, key: string): string {
  return `table|0.1|1713795082.354255|${table}|lookup|alias|${(i & 0xffffffff).toString(16).padStart(8, '0')}|${key}\n`;
}
