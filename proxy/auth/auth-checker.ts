// smtpd 7.6+ `auth` checks (key `user:password`), answered on the mail host:
// the user's `credentials` entry is looked up (only the user name leaves the
// host) and the password is verified here against its hash. The plaintext
// never enters a cache key or a log: a verdict is cached under an HMAC of
// (table, user, password) with a key drawn at random when the process
// starts, together with the hash it was computed against, so a changed hash
// is verified afresh. Right and wrong verdicts are both cached, so a repeated
// attempt is as fast either way, and a first attempt as slow either way. An
// unknown user is verified against a dummy hash of the scheme and cost last
// seen in the same table, so it costs what a known user costs.
// A verdict is reused only against the hash of the user's entry as the
// resolver answers it now, and the resolver answers only from the newest
// generation known (resolver/generation.ts): a password changed or removed
// by a new generation is never accepted on an old verdict, even while the
// function is down (credentials are never served stale).

import { LRUCache } from 'lru-cache';
import { valueError } from '../../common/smtpd/index.js';
import type { Logger } from '../log.js';
import type { Answer, Source } from '../resolver/answer.js';
import type { Resolver } from '../resolver/resolver.js';
import { withDeadline } from '../resolver/with-deadline.js';
import { costOf, DEFAULT_COST, dummyHash, verifyPassword } from './password-hash.js';

interface Verdict {
  /** The hash verified against; null when the user had no entry (a dummy hash was verified instead). */
  hash: string | null;
  ok: boolean;
}

export interface AuthCheckerOptions {
  deadlineMs: number;
  /** How long a verdict is reused while the hash is unchanged. */
  ttlMs: number;
  maxVerdicts: number;
}

export class AuthChecker {
  /** Made at the first check, with a key drawn then: node:crypto (about 0.7 MiB) loads then, not in a table process never asked for a password. */
  private hmac: ((...parts: string[]) => string) | undefined;
  private readonly verdicts: LRUCache<string, Verdict>;
  /** Per table, the setting (scheme and cost) of the last hash verified: what an unknown user is verified against. */
  private readonly costs = new Map<string, string>();

  constructor(
    private readonly resolver: Resolver,
    private readonly log: Logger,
    private readonly o: AuthCheckerOptions,
  ) {
    this.verdicts = new LRUCache<string, Verdict>({ max: o.maxVerdicts, ttl: o.ttlMs, perf: { now: () => resolver.clock.monotonic() } });
  }

  check(table: string, key: string): Answer | Promise<Answer> {
    // smtpd sends "user:password"; a user name has no ':' in smtpd's AUTH, a password may.
    const colon = key.indexOf(':');
    if (colon < 0) return { kind: 'error', reason: 'auth key is not user:password', timeout: false };
    const user = key.slice(0, colon);
    const password = key.slice(colon + 1);
    const id = this.mac(table, user, password);
    const cached = this.resolver.lookupCached(table, 'credentials', user);
    if (cached) {
      const hash = this.hashOf(table, user, cached);
      if (hash !== null && typeof hash === 'object') return hash;
      const v = this.verdicts.get(id);
      if (v !== undefined && v.hash === hash) return answer(v.ok, 'cache');
    }
    return withDeadline(this.slow(table, user, password, id), this.o.deadlineMs);
  }

  clear(): void {
    this.verdicts.clear();
  }

  private async slow(table: string, user: string, password: string, id: string): Promise<Answer> {
    const a = await this.resolver.lookup(table, 'credentials', user);
    const hash = this.hashOf(table, user, a);
    if (hash !== null && typeof hash === 'object') return hash;
    const v = this.verdicts.get(id);
    if (v !== undefined && v.hash === hash) return answer(v.ok, 'cache');
    // An unknown user costs one verification of the table's scheme and cost too, so timing does not tell users apart.
    const verdict = await verifyPassword(password, hash ?? (await dummyHash(this.costs.get(table) ?? DEFAULT_COST)));
    if ('unsupported' in verdict) {
      // The user name is a key of the table: never logged.
      this.log.error({ table, reason: verdict.unsupported }, 'credentials hash cannot be verified on this host: answered error');
      return { kind: 'error', reason: `cannot verify ${verdict.unsupported}`, timeout: false };
    }
    const cost = hash === null ? undefined : costOf(hash);
    // Bounded by the tables this process serves (one, for smtpd).
    if (cost !== undefined) this.costs.set(table, cost);
    const ok = hash !== null && verdict.ok;
    this.verdicts.set(id, { hash, ok });
    return answer(ok, a.kind === 'error' ? 'upstream' : a.source);
  }

  /** The password hash of the user's credentials entry (`user:hash` or `hash`), null without one, or an error answer. */
  private hashOf(table: string, user: string, a: Answer): string | null | Answer {
    if (a.kind === 'error') return a;
    if (a.kind === 'not-found') return null;
    const bad = valueError('credentials', user, a.value);
    if (bad !== undefined) {
      this.log.error({ table, reason: bad }, 'credentials entry is not valid: answered error');
      return { kind: 'error', reason: `invalid credentials value: ${bad}`, timeout: false };
    }
    const colon = a.value.indexOf(':');
    return colon < 0 ? a.value : a.value.slice(colon + 1);
  }

  private mac(table: string, user: string, password: string): string {
    this.hmac ??= keyedHmac();
    return this.hmac(table, user, password);
  }
}

function answer(ok: boolean, source: Source): Answer {
  return ok ? { kind: 'found', value: 'ok', source } : { kind: 'not-found', source };
}

/** HMAC-SHA256 of its arguments (NUL between them) under a key drawn at random now. */
function keyedHmac(): (...parts: string[]) => string {
  const { createHmac, randomBytes } = process.getBuiltinModule('node:crypto');
  const key = randomBytes(32);
  return (...parts) => createHmac('sha256', key).update(parts.join('\0')).digest('base64');
}
