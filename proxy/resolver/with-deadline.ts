// An answer by a deadline, whatever the work behind it does: the work goes
// on (a listing, a hash check) and serves whoever asks next.

import type { Answer } from './answer.js';

/** Settles by `ms` with a timeout error, or with `p`'s answer (an internal error if it fails). */
export function withDeadline(p: Promise<Answer>, ms: number): Promise<Answer> {
  return new Promise<Answer>((resolve) => {
    const timer = setTimeout(() => resolve({ kind: 'error', reason: `no answer within ${ms} ms`, timeout: true }), ms);
    p.then(
      (a) => {
        clearTimeout(timer);
        resolve(a);
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve({ kind: 'error', reason: `internal error: ${(err as Error).message}`, timeout: false });
      },
    );
  });
}
