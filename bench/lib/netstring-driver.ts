// Drives a socketmap server as Postfix or Sendmail would, over many
// connections (one request at a time on each), timing every reply.

import { connect, type Socket } from 'node:net';
import { parseListenAddress } from '../../proxy/addresses/listen-address.js';
import { netstring, NetstringReader } from '../../proxy/sockmap/netstring.js';

/** One client connection that counts replies and times them (replies come back in request order). */
class Conn {
  private readonly reader = new NetstringReader(1024 * 1024);
  /** Send times of the outstanding requests, oldest first. */
  private readonly sentAt: number[] = [];
  private head = 0;
  /** Called once per read, with the latency and payload of each reply in it. */
  onReplies: (latenciesMs: number[], replies: string[]) => void = () => {};

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      const now = performance.now();
      const latencies: number[] = [];
      const replies: string[] = [];
      for (let f = this.reader.next(); f !== undefined; f = this.reader.next()) {
        if ('error' in f) throw new Error(`malformed reply: ${f.error}`);
        latencies.push(now - this.sentAt[this.head++]!);
        replies.push(f.payload.toString('utf8'));
      }
      if (replies.length > 0) this.onReplies(latencies, replies);
      if (this.head > 4096) {
        this.sentAt.splice(0, this.head);
        this.head = 0;
      }
    });
  }

  get outstanding(): number {
    return this.sentAt.length - this.head;
  }

  send(requests: string[]): void {
    const now = performance.now();
    for (let i = 0; i < requests.length; i++) this.sentAt.push(now);
    this.socket.write(requests.join(''));
  }
}

/**
 * Drives a socketmap server the way many Postfix processes would, over
 * `connections` connections, cycling through `keys` of map `map`.
 */
export class SocketmapLoad {
  private constructor(
    private readonly conns: Conn[],
    private readonly requests: string[],
  ) {}

  static async connect(address: string, connections: number, map: string, keys: string[]): Promise<SocketmapLoad> {
    const a = parseListenAddress(address);
    const conns = await Promise.all(
      Array.from(
        { length: connections },
        () =>
          new Promise<Conn>((resolve, reject) => {
            const s = a.kind === 'inet' ? connect(a.port, a.host) : connect(a.path);
            s.setNoDelay(true);
            s.once('connect', () => resolve(new Conn(s)));
            s.once('error', reject);
          }),
      ),
    );
    return new SocketmapLoad(
      conns,
      keys.map((k) => netstring(`${map} ${k}`)),
    );
  }

  /** Asks every key once on the first connection, at most `window` outstanding, and checks each was found. */
  async warm(window = this.requests.length): Promise<void> {
    const c = this.conns[0]!;
    for (let at = 0; at < this.requests.length; at += window) {
      const part = this.requests.slice(at, at + window);
      let left = part.length;
      await new Promise<void>((resolve, reject) => {
        c.onReplies = (_ms, replies) => {
          const bad = replies.find((r) => !r.startsWith('OK '));
          if (bad !== undefined) reject(new Error(`warm-up answer: ${bad}`));
          left -= replies.length;
          if (left === 0) resolve();
        };
        c.send(part);
      });
    }
  }

  /** Closed loop: every connection keeps `depth` requests outstanding for `ms`. Lookups/s and latencies. */
  async saturate(depth: number, ms: number): Promise<{ perSecond: number; latencies: number[] }> {
    let next = 0;
    let done = 0;
    const latencies: number[] = [];
    const t0 = performance.now();
    const end = t0 + ms;
    const take = (k: number): string[] => {
      const out: string[] = [];
      for (let i = 0; i < k; i++) out.push(this.requests[next++ % this.requests.length]!);
      return out;
    };
    await Promise.all(
      this.conns.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.onReplies = (lats) => {
              done += lats.length;
              if (latencies.length < 200_000) latencies.push(...lats);
              // Refilled once per read, as a client with many requests queued would.
              if (performance.now() < end) c.send(take(lats.length));
              else if (c.outstanding === 0) resolve();
            };
            c.send(take(depth));
          }),
      ),
    );
    return { perSecond: (done / (performance.now() - t0)) * 1000, latencies };
  }

  /** Open loop: `rate` requests/s spread over the connections for `ms`; latency of each. */
  async paced(rate: number, ms: number): Promise<number[]> {
    const latencies: number[] = [];
    let sent = 0;
    let received = 0;
    for (const c of this.conns) {
      c.onReplies = (lats) => {
        latencies.push(...lats);
        received += lats.length;
      };
    }
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * rate), Math.floor((ms / 1000) * rate));
        for (; sent < due; sent++) this.conns[sent % this.conns.length]!.send([this.requests[sent % this.requests.length]!]);
        if (sent >= (ms / 1000) * rate && received >= sent) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    return latencies;
  }

  close(): void {
    for (const c of this.conns) c.socket.destroy();
  }
}
