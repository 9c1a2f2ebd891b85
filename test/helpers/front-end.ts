// A proxy front end driven as its mail server drives it, the same way for
// both: `cloudtable smtpd` over stdio (smtpd's lines, answered by ID) and
// `cloudtable sockmap` over TCP (netstrings, several connections, answered in
// order per connection). Each answer comes with the time since the bytes of
// its request were handed to the kernel, which is what a deadline is
// measured against.

import type { Writable } from 'node:stream';
import { netstring } from '../../proxy/sockmap/netstring.js';
import { SockmapClient, startSockmap, type RunningSockmap } from './sockmap.js';
import { SmtpdPeer, request, writeConfig } from './smtpd-peer.js';

export type FrontEndKind = 'smtpd' | 'sockmap';
export const FRONT_ENDS: readonly FrontEndKind[] = ['smtpd', 'sockmap'];

/** `error` is smtpd's `error` and socketmap's TEMP or TIMEOUT; `perm` is socketmap's PERM. */
export type Verdict = 'found' | 'not-found' | 'error' | 'perm';

export interface Answered {
  key: string;
  verdict: Verdict;
  /** The value, or the failure's reason (socketmap: with its status). */
  text: string;
  /** From the write that carried the request to the arrival of its answer. */
  ms: number;
}

export interface FrontEnd {
  readonly kind: FrontEndKind;
  readonly pid: number;
  readonly stderr: string;
  /** Sends every lookup (at once, or spread evenly over `spreadMs`) and waits for all the answers. */
  lookupAll(keys: string[], opts?: SendOptions): Promise<Answered[]>;
  alive(): boolean;
  close(): Promise<void>;
}

export interface SendOptions {
  /** The writes are spread over this long, in even steps (the lookups are all in flight still, if it is below the deadline). */
  spreadMs?: number;
  timeoutMs?: number;
}

export interface FrontEndOptions {
  upstream: string;
  table: string;
  /** Extra TOML after `[upstream] url = …` (so it may continue that section). */
  toml?: string;
  /** sockmap: the connections lookups are spread over. */
  connections?: number;
  args?: string[];
}

export async function startFrontEnd(kind: FrontEndKind, o: FrontEndOptions): Promise<FrontEnd> {
  const config = writeConfig(`[upstream]\nurl = "${o.upstream}"\n${o.toml ?? ''}`);
  return kind === 'smtpd' ? SmtpdFrontEnd.start(config, o) : SockmapFrontEnd.start(config, o);
}

/** Writes `text` after `delayMs`; resolves when it went to the kernel. */
function writeTimed(out: Writable, text: string, delayMs = 0): Promise<number> {
  return new Promise<number>((resolve) => {
    const write = (): void => void out.write(text, () => resolve(performance.now()));
    if (delayMs > 0) setTimeout(write, delayMs);
    else write();
  });
}

class SmtpdFrontEnd implements FrontEnd {
  readonly kind = 'smtpd';
  private nextId = 1;

  private constructor(
    private readonly peer: SmtpdPeer,
    private readonly table: string,
  ) {}

  static async start(config: string, o: FrontEndOptions): Promise<SmtpdFrontEnd> {
    const peer = new SmtpdPeer([config, ...(o.args ?? [])]);
    await peer.handshake(o.table);
    return new SmtpdFrontEnd(peer, o.table);
  }

  get pid(): number {
    return this.peer.child.pid!;
  }

  get stderr(): string {
    return this.peer.stderr;
  }

  async lookupAll(keys: string[], { spreadMs = 0, timeoutMs = 30_000 }: SendOptions = {}): Promise<Answered[]> {
    const ids = keys.map(() => (this.nextId++).toString(16).padStart(8, '0'));
    const arrivals = new Map<string, { line: string; at: number }>();
    let partial = '';
    const onData = (s: string): void => {
      const at = performance.now();
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const line of lines) arrivals.set(line.split('|')[1] ?? '', { line, at });
    };
    this.peer.child.stdout.on('data', onData);
    try {
      // Pieces of 500 lines: a piece is timed when the child could read it.
      const pieces: string[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        pieces.push(keys.slice(i, i + 500).map((k, j) => request(this.table, 'lookup', 'alias', ids[i + j]!, k)).join(''));
      }
      const written = pieces.map((p, i) => writeTimed(this.peer.child.stdin, p, (i * spreadMs) / pieces.length));
      await this.peer.lines(keys.length, timeoutMs); // every answer is in (and taken off the peer's buffer)
      const sentAt = await Promise.all(written);
      return keys.map((key, i) => {
        const a = arrivals.get(ids[i]!);
        if (!a) throw new Error(`no answer for ${ids[i]}`);
        const m = /^lookup-result\|[0-9a-f]{8}\|(found\|(.*)|not-found|error(?:\|(.*))?)$/.exec(a.line);
        if (!m) throw new Error(`malformed answer line ${JSON.stringify(a.line)}`);
        const verdict: Verdict = m[1]!.startsWith('found') ? 'found' : m[1] === 'not-found' ? 'not-found' : 'error';
        return { key, verdict, text: m[2] ?? m[3] ?? '', ms: a.at - sentAt[Math.floor(i / 500)]! };
      });
    } finally {
      this.peer.child.stdout.off('data', onData);
    }
  }

  alive(): boolean {
    return this.peer.child.exitCode === null && this.peer.child.signalCode === null;
  }

  async close(): Promise<void> {
    this.peer.kill();
  }
}

class SockmapFrontEnd implements FrontEnd {
  readonly kind = 'sockmap';

  private constructor(
    private readonly server: RunningSockmap,
    private readonly clients: SockmapClient[],
    private readonly table: string,
  ) {}

  static async start(config: string, o: FrontEndOptions): Promise<SockmapFrontEnd> {
    const server = await startSockmap(['--listen', 'inet:127.0.0.1:0', '--config', config, ...(o.args ?? [])]);
    const clients = await Promise.all(Array.from({ length: o.connections ?? 4 }, () => SockmapClient.connect(server.listeners[0]!)));
    return new SockmapFrontEnd(server, clients, o.table);
  }

  get pid(): number {
    return this.server.child.pid!;
  }

  get stderr(): string {
    return this.server.stderr;
  }

  /** Keys are dealt round-robin over the connections, each connection's share pipelined in one write. */
  async lookupAll(keys: string[], { spreadMs = 0, timeoutMs = 30_000 }: SendOptions = {}): Promise<Answered[]> {
    const shares = this.clients.map((_, c) => keys.map((k, i) => ({ k, i })).filter((x) => x.i % this.clients.length === c));
    const out: Answered[] = new Array(keys.length);
    await Promise.all(
      this.clients.map(async (client, c) => {
        const share = shares[c]!;
        if (share.length === 0) return;
        const written = writeTimed(client.socket, share.map((x) => netstring(`${this.table} ${x.k}`)).join(''), (c * spreadMs) / this.clients.length);
        const replies = await client.nextTimed(share.length, timeoutMs + spreadMs);
        const sentAt = await written;
        replies.forEach((r, j) => {
          const { k, i } = share[j]!;
          const status = r.payload.slice(0, r.payload.indexOf(' '));
          const verdict: Verdict = status === 'OK' ? 'found' : status === 'NOTFOUND' ? 'not-found' : status === 'PERM' ? 'perm' : 'error';
          if (verdict === 'error' && status !== 'TEMP' && status !== 'TIMEOUT') throw new Error(`unknown socketmap status in ${JSON.stringify(r.payload)}`);
          out[i] = { key: k, verdict, text: verdict === 'found' ? r.payload.slice(3) : r.payload, ms: r.at - sentAt };
        });
      }),
    );
    return out;
  }

  alive(): boolean {
    return this.server.child.exitCode === null && this.server.child.signalCode === null;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    this.server.child.kill('SIGKILL');
  }
}
