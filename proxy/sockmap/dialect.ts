// Socketmap replies as each client needs them (docs/protocols.md). Every reply
// payload is made here, so the rules hold everywhere: never a bare `OK`
// (Sendmail crashes), never an empty value (Postfix answers 451), never a
// reply longer than the client reads (a long one desynchronizes Postfix),
// `%` doubled for Sendmail (which interpolates it), no NUL, CR or LF in a
// value, and a failure is never answered as not found.

import type { Dialect, NotFoundCode } from '../config/choices.js';
import type { Answer } from '../resolver/answer.js';

export { DIALECTS, type Dialect, type NotFoundCode } from '../config/choices.js';

/** The most reply payload each client accepts. */
export const REPLY_LIMIT: Record<Dialect, number> = { postfix: 100_000, sendmail: 1_000_000 };

export type FailureCode = 'TEMP' | 'TIMEOUT' | 'PERM';

/** A status with a reason, kept short and on one line: clients log it. */
export function failure(code: FailureCode, reason: string): string {
  const clean = reason.replace(/[\0-\x1f\x7f]+/g, ' ');
  return `${code} ${clean.length > 200 ? `${clean.slice(0, 199)}…` : clean}`;
}

export function notFound(code: NotFoundCode): string {
  return `${code} `;
}

/** The reply payload for a resolver answer. */
export function replyFor(answer: Answer, dialect: Dialect, notFoundCode: NotFoundCode): string {
  switch (answer.kind) {
    case 'not-found':
      return notFound(notFoundCode);
    case 'error':
      return failure(answer.timeout ? 'TIMEOUT' : 'TEMP', answer.reason);
    case 'found':
      return found(answer.value, dialect, notFoundCode);
  }
}

function found(value: string, dialect: Dialect, notFoundCode: NotFoundCode): string {
  if (value.length === 0) return notFound(notFoundCode);
  // Both clients cut the value at a NUL: answering it would answer something
  // else; CR and LF are refused as the smtpd front end refuses them (a
  // value is one line in every table source these maps stand for).
  if (value.includes('\0') || value.includes('\n') || value.includes('\r')) return failure('PERM', 'stored value contains NUL, CR or LF');
  const reply = `OK ${dialect === 'sendmail' && value.includes('%') ? value.replaceAll('%', '%%') : value}`;
  const limit = REPLY_LIMIT[dialect];
  // A UTF-8 byte is at most 3 per UTF-16 code unit: most replies need no count.
  if (reply.length * 3 > limit) {
    const bytes = Buffer.byteLength(reply);
    if (bytes > limit) return failure('PERM', `value too large: a ${bytes}-byte reply exceeds the ${limit}-byte limit of ${dialect}`);
  }
  return reply;
}
