// `regex` table keys: POSIX extended regular expressions, as smtpd's
// table_regex_match() compiles them (regcomp REG_EXTENDED|REG_NOSUB, plus
// REG_ICASE after a leading `(?i)`), run here as JavaScript RegExps.
//
// smtpd folds table keys and lookup keys to lowercase, so patterns are
// folded before they are compiled, exactly as smtpd loads them. Only whether
// a pattern matches matters (REG_NOSUB), so POSIX's leftmost-longest rule
// versus JavaScript's leftmost-first makes no difference. Every other place
// where the two dialects differ is refused rather than guessed:
//
// - `\` before a letter or digit (`\d`, `\w`, `\b`, `\<`, back-references)
//   is undefined in POSIX ERE, a GNU or BSD extension at best, and means
//   something else in JavaScript: refused. `\` before punctuation is a literal.
// - Bracket expressions are translated: `\` is literal inside them in POSIX;
//   a leading `]` is a member; `[:alpha:]` and the other C-locale classes are
//   expanded; `[=a=]` and `[.a.]` are refused.
// - `{` must start a valid interval `{m}`, `{m,}` or `{m,n}` (n ≤ 255);
//   `{,n}` (GNU) and a literal `{` (JavaScript) are refused.
// - A repetition with nothing to repeat (`*a`, `(*a)`, `a|*b`), stacked
//   repetitions (`a**`, `a+?`, which JavaScript reads as lazy), a
//   repetition of an anchor, empty alternatives or groups (`a|`, `()`), an
//   unmatched parenthesis, `(?…)` anywhere but a leading `(?i)`: refused.
// - Non-ASCII patterns are refused: smtpd matches bytes in the C locale, so
//   `.` would consume one byte of a UTF-8 character where JavaScript would
//   consume the whole character. Keys are matched as byte strings (asBytes)
//   so that `.` and negated brackets step over bytes, as in C.

import { asBytes, foldKey } from './text.js';

export type CompiledRegex = { ok: true; regex: RegExp } | { ok: false; reason: string };

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\x0b\\f\\r',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

const RE_DUP_MAX = 255;

class Refused extends Error {}

function hex(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** Translates one ERE into JavaScript source; throws Refused. */
class Translator {
  private i = 0;

  constructor(private readonly p: string) {}

  run(): string {
    const out = this.alternation();
    if (this.i < this.p.length) throw new Refused(`unmatched ) at offset ${this.i}`);
    return out;
  }

  private alternation(): string {
    const branches = [this.branch()];
    while (this.p[this.i] === '|') {
      this.i++;
      branches.push(this.branch());
    }
    return branches.join('|');
  }

  private branch(): string {
    let out = '';
    let pieces = 0;
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      out += this.piece();
      pieces++;
    }
    if (pieces === 0) throw new Refused(`empty alternative or group at offset ${this.i}`);
    return out;
  }

  private piece(): string {
    const c = this.p[this.i]!;
    if (c === '*' || c === '+' || c === '?' || c === '{') throw new Refused(`repetition with nothing to repeat at offset ${this.i}`);
    const anchor = c === '^' || c === '$';
    const atom = this.atom();
    const dup = this.repetition();
    if (dup === '') return atom;
    if (anchor) throw new Refused(`repetition of an anchor at offset ${this.i}`);
    const next = this.p[this.i];
    if (next === '*' || next === '+' || next === '?' || next === '{') throw new Refused(`stacked repetitions at offset ${this.i}`);
    return atom + dup;
  }

  private repetition(): string {
    const c = this.p[this.i];
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      return c;
    }
    if (c !== '{') return '';
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
    if (!m) throw new Refused(`{ at offset ${this.i} does not start an interval {m}, {m,} or {m,n}`);
    const lo = Number(m[1]);
    const hi = m[3] === undefined || m[3] === '' ? undefined : Number(m[3]);
    if (lo > RE_DUP_MAX || (hi !== undefined && (hi > RE_DUP_MAX || hi < lo))) throw new Refused(`invalid interval ${m[0]}`);
    this.i += m[0].length;
    return m[0];
  }

  private atom(): string {
    const c = this.p[this.i++]!;
    switch (c) {
      case '(': {
        if (this.p[this.i] === '?') throw new Refused(`(? at offset ${this.i - 1} is not POSIX`);
        const inner = this.alternation();
        if (this.p[this.i] !== ')') throw new Refused('unmatched (');
        this.i++;
        return `(?:${inner})`;
      }
      case '.':
        return '.';
      case '^':
      case '$':
        return c;
      case '[':
        return this.bracket();
      case '\\': {
        const n = this.p[this.i++];
        if (n === undefined) throw new Refused('trailing backslash');
        if (/[A-Za-z0-9]/.test(n)) throw new Refused(`\\${n} is not defined in POSIX extended regular expressions`);
        return hex(n);
      }
      default:
        return /[A-Za-z0-9]/.test(c) ? c : hex(c);
    }
  }

  private bracket(): string {
    let out = '[';
    if (this.p[this.i] === '^') {
      out += '^';
      this.i++;
    }
    let first = true;
    for (;;) {
      const c = this.p[this.i];
      if (c === undefined) throw new Refused('unterminated [');
      if (c === ']' && !first) {
        this.i++;
        return `${out}]`;
      }
      first = false;
      if (c === '[' && (this.p[this.i + 1] === ':' || this.p[this.i + 1] === '=' || this.p[this.i + 1] === '.')) {
        const kind = this.p[this.i + 1]!;
        const end = this.p.indexOf(`${kind}]`, this.i + 2);
        if (end < 0) throw new Refused(`unterminated [${kind}`);
        const name = this.p.slice(this.i + 2, end);
        if (kind !== ':') throw new Refused(`[${kind}${name}${kind}] collating elements and equivalence classes are not supported`);
        const cls = CLASSES[name];
        if (cls === undefined) throw new Refused(`unknown character class [:${name}:]`);
        out += cls;
        this.i = end + 2;
        if (this.p[this.i] === '-' && this.p[this.i + 1] !== ']') throw new Refused('a character class cannot start a range');
        continue;
      }
      this.i++;
      if (this.p[this.i] === '-' && this.p[this.i + 1] !== undefined && this.p[this.i + 1] !== ']') {
        const hi = this.p[this.i + 1]!;
        if (hi === '[') throw new Refused('a range cannot end with [');
        if (hi < c) throw new Refused(`invalid range ${c}-${hi}`);
        this.i += 2;
        if (this.p[this.i] === '-' && this.p[this.i + 1] !== ']') throw new Refused('ranges cannot share an end point');
        out += `${hex(c)}-${hex(hi)}`;
      } else out += hex(c);
    }
  }
}

/**
 * Compiles a `regex` table key (folded first, as smtpd loads it) into the
 * RegExp that matches exactly what smtpd's regexec() would, or says why it
 * cannot be done faithfully.
 */
export function compileSmtpdRegex(key: string): CompiledRegex {
  let p = foldKey(key);
  let flags = 's';
  if (p.startsWith('(?i)')) {
    flags += 'i';
    p = p.slice(4);
  }
  if (/[^\x20-\x7e]/.test(p)) return { ok: false, reason: 'non-ASCII or control characters: smtpd matches bytes, JavaScript characters' };
  try {
    return { ok: true, regex: new RegExp(new Translator(p).run(), flags) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    return { ok: false, reason: `invalid regular expression: ${(err as Error).message}` };
  }
}

/** regexec() on a lookup key, which smtpd has folded to lowercase. */
export function regexMatches(regex: RegExp, key: string): boolean {
  return regex.test(asBytes(foldKey(key)));
}
