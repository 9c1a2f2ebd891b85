// Reads the table files operators already have, the way their MTA reads them:
//
// smtpd — OpenSMTPD table(5) files, as smtpd's static tables load them:
//   surrounding whitespace trimmed; empty lines and lines starting with `#`
//   skipped (a `# @list` comment before the first entry makes a list); the
//   first entry decides the kind: with a space, tab or `:` it is a key-value
//   table, else a list (one key per line, no value). In a key-value table the
//   key ends at the first space, tab or `:`, and the value starts after any
//   run of whitespace and `:`-before-whitespace, so `root: alice` and
//   `root alice` are the same entry.
//
// postmap — Postfix postmap(1) source files: `key whitespace value`; empty,
//   whitespace-only and `#` lines ignored; a line starting with whitespace
//   continues the entry before it (joined as is, without the newline); a key
//   may contain whitespace inside double quotes (kept, as postmap keeps them).
//
// Both fold keys to lower case (ASCII) as smtpd and postmap do, unless told
// not to. Where the MTA would warn and skip (a key without a value, a
// repeated key), this reader reports an error with the line number instead:
// a table is replaced whole or not at all.

import { foldKey, isSpace } from '../../common/smtpd/text.js';

export type TableFormat = 'smtpd' | 'postmap';

export interface ParseOptions {
  format: TableFormat;
  /** Lower-case keys (ASCII), as smtpd and postmap do. */
  foldCase: boolean;
}

export type ParsedLine = { line: number; key: string; value: string } | { line: number; error: string };

/** Trims what C's isspace() calls space, as both MTAs do. */
function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

/** Turns physical lines into entries; feed lines in order, then call end(). */
export class TableParser {
  private kind: 'list' | 'map' | undefined;
  private kindLine = 0;
  /** postmap: the logical line being assembled, and where it started. */
  private pending: { text: string; line: number } | undefined;
  private readonly firstLine = new Map<string, number>();

  constructor(private readonly o: ParseOptions) {}

  line(text: string, line: number): ParsedLine[] {
    return this.o.format === 'smtpd' ? this.smtpdLine(text, line) : this.postmapLine(text, line);
  }

  end(): ParsedLine[] {
    if (this.o.format !== 'postmap' || !this.pending) return [];
    const p = this.pending;
    this.pending = undefined;
    return [this.postmapEntry(p.text, p.line)];
  }

  private smtpdLine(raw: string, line: number): ParsedLine[] {
    const text = trim(raw);
    if (text === '') return [];
    if (text.startsWith('#')) {
      if (this.kind === undefined && trim(text.slice(1)) === '@list') {
        this.kind = 'list';
        this.kindLine = line;
      }
      return [];
    }
    if (this.kind === undefined) {
      this.kind = /[ \t:]/.test(text) ? 'map' : 'list';
      this.kindLine = line;
    }
    if (this.kind === 'list') return [this.entry(text, '', line)];
    const end = text.search(/[ \t:]/);
    if (end < 0) return [{ line, error: `${JSON.stringify(preview(text))} has no value, but this is a key-value table (line ${this.kindLine} made it one)` }];
    let v = end + 1;
    while (v < text.length && (isSpace(text[v]) || (text[v] === ':' && isSpace(text[v + 1])))) v++;
    if (v >= text.length) return [{ line, error: `${JSON.stringify(preview(text.slice(0, end)))} has no value` }];
    return [this.entry(text.slice(0, end), text.slice(v), line)];
  }

  private postmapLine(raw: string, line: number): ParsedLine[] {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const body = trim(text);
    if (body === '' || body.startsWith('#')) return [];
    if (isSpace(text[0])) {
      if (!this.pending) return [{ line, error: 'a line starting with whitespace continues an entry, but no entry comes before it' }];
      this.pending.text += text;
      return [];
    }
    const out = this.pending ? [this.postmapEntry(this.pending.text, this.pending.line)] : [];
    this.pending = { text, line };
    return out;
  }

  private postmapEntry(text: string, line: number): ParsedLine {
    let inQuotes = false;
    let i = 0;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') i++;
      else if (c === '"') inQuotes = !inQuotes;
      else if (isSpace(c) && !inQuotes) break;
    }
    if (inQuotes) return { line, error: 'unbalanced double quote in the key' };
    const key = text.slice(0, i);
    const value = trim(text.slice(i));
    if (value === '') return { line, error: `${JSON.stringify(preview(key))} has no value (expected format: key whitespace value)` };
    return this.entry(key, value, line);
  }

  private entry(rawKey: string, value: string, line: number): ParsedLine {
    const key = this.o.foldCase ? foldKey(rawKey) : rawKey;
    const first = this.firstLine.get(key);
    if (first !== undefined) return { line, error: `${JSON.stringify(preview(key))} is already on line ${first}` };
    this.firstLine.set(key, line);
    return { line, key, value };
  }
}

function preview(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * Splits a byte stream into lines at LF only (as getline(3) does; a CR stays
 * in the line, where trimming or validation deals with it), each decoded as
 * UTF-8, and parses them. Invalid UTF-8 is an error on its line.
 */
export async function* parseTableStream(input: AsyncIterable<Buffer | string>, o: ParseOptions): AsyncGenerator<ParsedLine> {
  const parser = new TableParser(o);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = Buffer.alloc(0);
  let line = 0;
  const decode = (bytes: Buffer): ParsedLine[] => {
    line++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return [{ line, error: 'not valid UTF-8' }];
    }
    return parser.line(text, line);
  };
  for await (const chunk of input) {
    const buf = rest.length > 0 ? Buffer.concat([rest, Buffer.from(chunk)]) : Buffer.from(chunk);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      yield* decode(buf.subarray(start, nl));
      start = nl + 1;
    }
    rest = Buffer.from(buf.subarray(start));
  }
  if (rest.length > 0) yield* decode(rest);
  yield* parser.end();
}
