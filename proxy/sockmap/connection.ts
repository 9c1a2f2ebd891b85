// One client connection: netstrings in, lookups run concurrently, replies
// out in request order. Back-pressure: while `maxInflight` requests are
// unanswered, or the client is not reading its replies, no more requests
// are taken and the socket is not read, so a connection holds at most one
// read, one request netstring and its unanswered replies. Whether an idle
// connection is closed is the server's decision (server.ts): this one
// says since when it is idle and closes when told.

import type { Socket } from 'node:net';
import type { LogBudget, Logger } from '../log.js';
import type { Dialect } from './dialect.js';
import { netstring, NetstringReader } from './netstring.js';
import { answerRequest, type RequestContext } from './request.js';

export interface ConnectionSettings {
  dialect: Dialect;
  /** Accepted on an inet listener: secret maps are not served unless allowed. */
  inet: boolean;
  maxInflight: number;
  maxRequestBytes: number;
  /** Shared by the server's connections: a flood of bad clients is a few lines a second. */
  badInput: LogBudget;
}

/** Answered replies are written once this many characters wait, even while more requests are being taken. */
const WRITE_AT = 64 * 1024;

/**
 * At a graceful stop, a connection that has not sent a request yet, or only
 * part of one, gets this long to send it: it was accepted a moment ago and
 * its request is on the way.
 */
const REQUEST_GRACE_MS = 1000;

/** A peer that stopped reading gets this long to take our last replies after we end. */
const LINGER_MS = 30_000;

export class SockmapConnection {
  /** Resolves once our side is finished: every reply handed to the kernel and the socket ended, or closed. */
  readonly finished: Promise<void>;
  private readonly reader: NetstringReader;
  /** Replies not yet written, in request order; undefined while the lookup runs. */
  private readonly replies: Array<string | undefined> = [];
  /** Replies that have left `replies`: a request's sequence number minus this is its index. */
  private written = 0;
  /** Characters of answered replies still in `replies`. */
  private waiting = 0;
  private flushScheduled = false;
  /** Requests taken so far. */
  private served = 0;
  /** No more requests will be taken: EOF or a framing error. */
  private inputDone = false;
  /** Stopping: the connection ends as soon as it is idle. */
  private draining = false;
  private graceOver = false;
  private paused = false;
  private ended = false;
  /** Date.now() of the last byte received or reply written. */
  lastActive = Date.now();

  constructor(
    readonly socket: Socket,
    private readonly settings: ConnectionSettings,
    private readonly context: () => RequestContext,
    private readonly log: Logger,
  ) {
    this.reader = new NetstringReader(settings.maxRequestBytes);
    this.finished = new Promise((resolve) => {
      socket.once('finish', resolve);
      socket.once('close', resolve);
    });
    socket.on('data', (chunk: Buffer) => {
      // After our end, input is only read to see the client's end.
      if (this.ended) return;
      this.lastActive = Date.now();
      this.reader.push(chunk);
      this.pump();
    });
    socket.on('end', () => {
      this.inputDone = true;
      this.pump();
    });
    socket.on('drain', () => this.pump());
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'connection error'));
    socket.on('close', () => {
      this.ended = true;
    });
  }

  /** Bytes this connection holds: unparsed input and replies the kernel has not taken. */
  get buffered(): number {
    return this.reader.buffered + this.socket.writableLength;
  }

  get dialect(): Dialect {
    return this.settings.dialect;
  }

  /** Nothing asked and unanswered, nothing half-received: closing it loses nothing. */
  get idle(): boolean {
    return !this.ended && this.replies.length === 0 && !this.reader.midFrame;
  }

  /** Ends an idle connection (the client sees EOF: Postfix reconnects and resends); false if it is not idle. */
  closeIdle(): boolean {
    if (!this.idle) return false;
    this.end();
    return true;
  }

  /**
   * Graceful stop: the connection ends once idle, with every request it
   * sent answered; one that has sent nothing yet, or half a request, gets a moment.
   */
  stop(): Promise<void> {
    this.draining = true;
    const grace = setTimeout(() => {
      this.graceOver = true;
      this.pump();
    }, REQUEST_GRACE_MS);
    this.socket.once('close', () => clearTimeout(grace));
    this.pump();
    return this.finished;
  }

  /** Takes every request it may, writes what is answered, then decides whether to read on. */
  private pump(): void {
    if (this.ended) return;
    let more = true;
    for (;;) {
      if (this.replies.length >= this.settings.maxInflight) {
        // Answered replies at the head make room.
        this.flush();
        if (this.replies.length >= this.settings.maxInflight) break;
      }
      // The client is not reading: 'drain' pumps again.
      if (this.socket.writableNeedDrain) break;
      const frame = this.reader.next();
      if (frame === undefined) {
        more = false;
        break;
      }
      if ('error' in frame) {
        this.settings.badInput.warn(this.log, { peer: peerOf(this.socket), reason: frame.error }, 'malformed request: closing the connection after answering what came before it');
        this.inputDone = true;
        more = false;
        break;
      }
      this.take(frame.payload);
    }
    this.flush();
    if (this.inputDone || more) this.pause();
    else this.resume();
    if (this.replies.length === 0 && !more && this.mayEnd()) this.end();
  }

  /** With nothing to answer and nothing more to take: whether this connection is done. */
  private mayEnd(): boolean {
    if (this.inputDone) return true;
    if (!this.draining) return false;
    // A half-received request is waited for until the grace is over.
    return this.graceOver || (this.served > 0 && this.reader.buffered === 0);
  }

  private take(payload: Buffer): void {
    this.served++;
    const reply = answerRequest(payload, this.settings.dialect, this.context(), this.settings.inet);
    if (typeof reply === 'string') {
      this.replies.push(reply);
      this.waiting += reply.length;
      // Large hits are written as they come, so write back-pressure can stop the loop.
      if (this.waiting > WRITE_AT) this.flush();
      return;
    }
    const seq = this.written + this.replies.length;
    this.replies.push(undefined);
    void reply.then((r) => {
      this.replies[seq - this.written] = r;
      this.waiting += r.length;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Replies completed by one upstream answer go out in one write.
    setImmediate(() => {
      this.flushScheduled = false;
      this.pump();
    });
  }

  /** Writes the answered head of the queue in one write. */
  private flush(): void {
    if (this.ended) return;
    let n = 0;
    let text = '';
    while (n < this.replies.length && this.replies[n] !== undefined) {
      const r = this.replies[n++]!;
      this.waiting -= r.length;
      text += netstring(r);
    }
    if (n === 0) return;
    this.replies.splice(0, n);
    this.written += n;
    this.lastActive = Date.now();
    this.socket.write(text);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.end();
    this.resume();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    linger.unref();
    this.socket.once('close', () => clearTimeout(linger));
  }
}

function peerOf(socket: Socket): string {
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix socket';
}
