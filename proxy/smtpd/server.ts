// `cloudtable smtpd`: an OpenSMTPD proc table on stdin/stdout.
// Handshake, then requests answered by ID in completion order: hits at once,
// misses when the resolver settles (by the deadline at the latest).

import type { Readable, Writable } from 'node:stream';
import { isService, type Service } from '../../common/contract/lookup.js';
import { LogBudget, type Logger } from '../log.js';
import type { Answer } from '../resolver/answer.js';
import type { TableService } from '../tables/table-service.js';
import { LineSplitter } from './line-splitter.js';
import { formatResult, formatUpdate, parseConfigLine, parseRequest, unsafeValue, type Outcome, type Request } from './protocol.js';

/** smtpd keys are at most 1023 bytes; a line of 64 KiB is garbage, not a request. */
const MAX_LINE = 64 * 1024;
/** After stdin EOF, how long answers still in flight may take before the process exits. */
const EOF_GRACE_MS = 500;
/** Replies written at once at the latest. */
const FLUSH_AT = 256;
/** Lines about bad input from smtpd: at most this many a second. */
const BAD_INPUT_LINES_PER_S = 10;

export interface SmtpdTableOptions {
  input: Readable;
  output: Writable;
  tables: TableService;
  log: Logger;
  /**
   * What to register and which cloud table to query, for smtpd's name of
   * this table (known at the end of the handshake; undefined if smtpd sent
   * none); `table` undefined: smtpd's name.
   */
  settings: (smtpdTable: string | undefined) => { services: readonly Service[]; table?: string };
  /** Called once the handshake's reply is written: smtpd waits for it before its banner, so what can wait starts then. */
  onReady?: () => void;
}

/** Runs until stdin ends; resolves then (smtpd never signals a table: EOF is the only stop). */
export function runSmtpdTable(opts: SmtpdTableOptions): Promise<void> {
  return new SmtpdTable(opts).run();
}

class SmtpdTable {
  private handshakeDone = false;
  private smtpdTable: string | undefined;
  private cloudTable: string | undefined;
  /** Replies not yet written, and how many. */
  private out = '';
  private pending = 0;
  private flushScheduled = false;
  private closed = false;
  private inflight = 0;
  private onDrained: (() => void) | undefined;
  private readonly badInput = new LogBudget(BAD_INPUT_LINES_PER_S, 1000);

  constructor(private readonly o: SmtpdTableOptions) {}

  run(): Promise<void> {
    const { input, output, log } = this.o;
    const splitter = new LineSplitter(
      MAX_LINE,
      (line) => this.onLine(line),
      (chars) => this.badLine({ chars }, 'discarded an overlong line from smtpd'),
    );
    output.on('error', (err) => {
      // smtpd has gone away; nothing can be answered any more.
      log.debug({ err: err.message }, 'stdout closed');
      this.closed = true;
    });
    return new Promise<void>((resolve) => {
      input.on('data', (chunk: Buffer) => {
        try {
          splitter.push(chunk);
        } catch (err) {
          log.error({ err: String(err) }, 'internal error while reading smtpd input');
        }
        // The answers known at once (hits) go out now, in one write for the whole chunk, not a turn later.
        this.flush();
      });
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        // smtpd itself never half-closes, but a person piping requests in
        // does: let answers already on their way out go, briefly.
        const done = (): void => {
          clearTimeout(grace);
          this.flush();
          resolve();
        };
        const grace = setTimeout(done, EOF_GRACE_MS);
        if (this.inflight === 0) done();
        else this.onDrained = done;
      };
      input.once('end', end);
      input.once('close', end);
      input.once('error', (err) => {
        log.warn({ err: err.message }, 'stdin error');
        end();
      });
    });
  }

  private onLine(raw: string): void {
    // smtpd never sends CR; tolerate a CRLF peer (a person typing, a test tool).
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!this.handshakeDone) return this.onHandshake(line);
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.badLine({ reason: parsed.reason, line: preview(line) }, 'malformed request from smtpd');
      if (parsed.id && parsed.op) {
        this.send(parsed.op === 'update' ? formatUpdate(parsed.id, false, parsed.reason) : formatResult(parsed.op, parsed.id, { s: 'error', message: parsed.reason }));
      }
      return;
    }
    this.onRequest(parsed.request);
  }

  private onHandshake(line: string): void {
    const c = parseConfigLine(line);
    if (!c.ok) {
      this.badLine({ reason: c.reason, line: preview(line) }, 'unexpected line during handshake');
      return;
    }
    if ('ready' in c) {
      this.handshakeDone = true;
      const { services, table } = this.o.settings(this.smtpdTable);
      this.cloudTable = table ?? this.smtpdTable;
      if (!this.cloudTable) this.o.log.warn('smtpd sent no table name and the configuration names none: every request will be answered error');
      // debug: a healthy table process is silent, and its logger (pino, about 2 MiB) loads at the first line logged.
      this.o.log.debug({ smtpdTable: this.smtpdTable, table: this.cloudTable, services }, 'handshake done');
      this.send(services.map((s) => `register|${s}\n`).join('') + 'register|ready\n');
      // After the flush that send() scheduled for this turn.
      if (this.o.onReady) setImmediate(this.o.onReady);
      return;
    }
    if (c.key === 'tablename') this.smtpdTable = c.value;
    else if (c.key === 'protocol' && c.value !== '0.1') this.o.log.warn({ protocol: c.value }, 'unknown table protocol version; answering as 0.1');
  }

  private onRequest(req: Request): void {
    const table = this.cloudTable;
    if (req.op === 'update') {
      if (!table) return this.send(formatUpdate(req.id, false, 'no table configured'));
      this.o.tables.update(table).then(
        () => this.send(formatUpdate(req.id, true)),
        (err: unknown) => this.send(formatUpdate(req.id, false, String(err))),
      );
      return;
    }
    if (!table) return this.send(formatResult(req.op, req.id, { s: 'error', message: 'no table configured' }));
    let answer: Answer | Promise<Answer>;
    try {
      if (req.op === 'fetch') answer = this.o.tables.fetch(table, req.service);
      else if (req.op === 'check') answer = this.o.tables.check(table, req.service, req.key);
      else answer = this.o.tables.lookup(table, req.service, req.key);
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'internal error in lookup');
      return this.send(formatResult(req.op, req.id, { s: 'error', message: 'internal error' }));
    }
    if (answer instanceof Promise) {
      this.inflight++;
      answer.then(
        (a) => {
          this.answer(req, a);
          this.settled();
        },
        (err: unknown) => {
          this.o.log.error({ err: String(err) }, 'internal error in lookup');
          this.send(formatResult(req.op, req.id, { s: 'error', message: 'internal error' }));
          this.settled();
        },
      );
    } else this.answer(req, answer);
  }

  private settled(): void {
    if (--this.inflight === 0) this.onDrained?.();
  }

  private answer(req: Exclude<Request, { op: 'update' }>, a: Answer): void {
    let outcome: Outcome;
    if (a.kind === 'found') outcome = { s: 'found', value: a.value };
    else if (a.kind === 'not-found') outcome = { s: 'not-found' };
    else {
      outcome = { s: 'error', message: a.reason };
      // The cause was logged once where it happened (an upstream failure, the circuit opening).
      this.o.log.debug({ op: req.op, service: req.service, reason: a.reason, timeout: a.timeout }, 'answered error');
    }
    // formatResult answers such a value error itself; said here for the log.
    if (outcome.s === 'found' && req.op !== 'check' && unsafeValue(outcome.value) !== undefined) {
      this.o.log.error({ op: req.op, service: req.service }, 'stored value cannot go on one protocol line (empty, or CR/LF/NUL): answered error');
    }
    this.send(formatResult(req.op, req.id, outcome));
  }

  private badLine(fields: object, msg: string): void {
    this.badInput.warn(this.o.log, fields, msg);
  }

  /**
   * Replies are coalesced into one write per chunk of input read (the hits
   * it asked), per event-loop turn for answers that settle later, or per
   * FLUSH_AT replies when many settle at once (a deadline passing for thousands).
   */
  private send(text: string): void {
    if (this.closed) return;
    this.out += text;
    if (++this.pending >= FLUSH_AT) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending === 0 || this.closed) return;
    const text = this.out;
    this.out = '';
    this.pending = 0;
    this.o.output.write(text);
  }
}

/**
 * What of a bad line may be logged: the fields in front of the key when the
 * line looks like a request (`table|VERSION|TIME|TABLE|OP|SERVICE`) or a
 * handshake line, and otherwise only its length. Never the key, which may be
 * an `auth` password, nor unknown text, which may be anything.
 */
function preview(line: string): string {
  const fields = line.split('|', 6);
  const shown: string[] = [];
  if (fields[0] === 'table') {
    for (const [i, f] of fields.entries()) {
      if (i === 5 ? !isService(f) : !/^[\w.-]{1,64}$/.test(f)) break;
      shown.push(f);
    }
  } else if (fields[0] === 'config' && fields.length <= 3) {
    for (const f of fields) if (/^[\w.-]{1,64}$/.test(f)) shown.push(f);
    if (shown.length < fields.length) shown.splice(1);
  }
  const head = shown.join('|');
  const more = line.length - head.length;
  return more > 0 ? `${head}…(${more} more chars)` : head;
}
