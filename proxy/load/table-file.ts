// Reads the table files operators already have, the way their MTA reads them,
// and one that carries any key and value exactly:
//
// smtpd — OpenSMTPD table(5) files, as smtpd (7.5 and later: the parser
//   smtpd and makemap share, parse_table_line() in util.c) loads them:
//   surrounding whitespace trimmed; empty lines and lines starting with `#`
//   skipped (a `# @list` comment before the first entry makes a list); the
//   first entry decides the kind: with a space, tab or `:` it is a key-value
//   table, else a list (one key per line, no value). In a key-value table the
//   key ends at the first space, tab or `:` — or, for a key starting with
//   `[` (an IPv6 address), at the `]` — and the value starts after that one
//   separator and any spaces and tabs, so `root: alice`, `root:alice` and
//   `root alice` are the same entry. A list of relay URLs (`smtp://…`) needs
//   `# @list` in smtpd too: its first `:` would make it a key-value table.
//
// postmap — Postfix postmap(1) source files: `key whitespace value`; empty,
//   whitespace-only and `#` lines ignored; a line starting with whitespace
//   continues the entry before it (joined as is, without the newline); a key
//   may contain whitespace inside double quotes (kept, as postmap keeps them).
//
// jsonl — JSON Lines, cloudtable's own: one `{"key": "…", "value": "…"}`
//   object per line (`value` may be left out in a list: the key stands for
//   itself); empty lines and lines starting with `#` skipped. Keys are taken
//   exactly as written, never folded: this is the format that carries any key
//   and value (spaces, colons, quotes, any Unicode) and that `cloudtable show`
//   falls back to when the text formats cannot.
//
// The text formats fold keys to lower case (ASCII) as smtpd and postmap do,
// unless told not to. Where the MTA would warn and skip (a key without a
// value, a repeated key), this reader reports an error with the line number
// instead: a table is replaced whole or not at all.

import { foldKey, isSpace } from '../../common/smtpd/text.js';

import type { TableFormat } from './table-formats.js';
export { TABLE_FORMATS, type TableFormat } from './table-formats.js';

export interface ParseOptions {
  format: TableFormat;
  /** Lower-case keys (ASCII), as smtpd and postmap do (never in jsonl). */
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
    switch (this.o.format) {
      case 'smtpd':
        return this.smtpdLine(text, line);
      case 'postmap':
        return this.postmapLine(text, line);
      case 'jsonl':
        return this.jsonLine(text, line);
    }
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
    const end = keyEnd(text);
    if (end === undefined) return [{ line, error: `${JSON.stringify(preview(text))}: a key starting with "[" must end with "]"` }];
    if (this.kind === undefined) {
      this.kind = end < text.length ? 'map' : 'list';
      this.kindLine = line;
    }
    if (this.kind === 'list') return [this.entry(text, '', line)];
    if (end >= text.length) return [{ line, error: `${JSON.stringify(preview(text))} has no value, but this is a key-value table (line ${this.kindLine} made it one)${urlHint(text)}` }];
    let v = end + 1;
    while (text[v] === ' ' || text[v] === '\t') v++;
    if (v >= text.length) return [{ line, error: `${JSON.stringify(preview(text.slice(0, end)))} has no value` }];
    return [this.entry(text.slice(0, end), text.slice(v), line, urlHint(text))];
  }

  private jsonLine(raw: string, line: number): ParsedLine[] {
    const text = trim(raw);
    if (text === '' || text.startsWith('#')) return [];
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      return [{ line, error: 'not a JSON object (expected {"key": "…", "value": "…"})' }];
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof (o as { key?: unknown }).key !== 'string') {
      return [{ line, error: 'expected {"key": "…", "value": "…"} with a string key' }];
    }
    const { key, value } = o as { key: string; value?: unknown };
    if (value !== undefined && typeof value !== 'string') return [{ line, error: `${JSON.stringify(preview(key))}: the value must be a string` }];
    if (key === '') return [{ line, error: 'empty key' }];
    return [this.entry(key, value ?? '', line)];
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

  private entry(rawKey: string, value: string, line: number, hint = ''): ParsedLine {
    const key = this.o.foldCase && this.o.format !== 'jsonl' ? foldKey(rawKey) : rawKey;
    const first = this.firstLine.get(key);
    if (first !== undefined) return { line, error: `${JSON.stringify(preview(key))} is already on line ${first}${hint}` };
    this.firstLine.set(key, line);
    return { line, key, value };
  }
}

/**
 * Where the key of a key-value line ends, as smtpd's parse_table_line():
 * at the first space, tab or `:`, or just after the `]` of a key starting
 * with `[` (undefined if there is none); the line's length if nothing ends it.
 */
function keyEnd(text: string): number | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    return close < 0 ? undefined : close + 1;
  }
  const end = text.search(/[ \t:]/);
  return end < 0 ? text.length : end;
}

/** A line that reads as `scheme://…`: the file is probably a list of URLs, which smtpd too reads as a list only after `# @list`. */
function urlHint(text: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) ? ' (a list of URLs? smtpd reads one as key:value too unless the file starts with "# @list")' : '';
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
