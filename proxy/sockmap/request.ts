// One socketmap request, `MAPNAME KEY`, to its reply payload. No I/O here:
// the connection frames, this decides what to answer.

import { isUtf8 } from 'node:buffer';
import { LIMITS } from '../../common/contract/lookup.js';
import type { TableHealth } from '../health/table-health.js';
import type { Logger } from '../log.js';
import type { Answer } from '../resolver/answer.js';
import type { TableService } from '../tables/table-service.js';
import { failure, notFound, replyFor, type Dialect, type NotFoundCode } from './dialect.js';
import type { MapDirectory } from './maps.js';

/** What answering needs; replaced as a whole when the configuration is reloaded. */
export interface RequestContext {
  tables: TableService;
  maps: MapDirectory;
  unknownMap: 'PERM' | 'NOTFOUND';
  /** A table the function does not have, nothing of it cached: TEMP (the default) or PERM, explicitly. */
  missingTable: 'TEMP' | 'PERM';
  log: Logger;
  /** The health map's name and its checks, when one is configured. */
  health?: { map: string; checks: TableHealth };
}

/**
 * The reply payload: at once for a cache hit or a bad request, else when the
 * resolver settles (never rejects). `inet`: the connection came through an
 * inet listener (which serves no secret map unless allowed).
 */
export function answerRequest(payload: Buffer, dialect: Dialect, ctx: RequestContext, inet: boolean): string | Promise<string> {
  // One decoding of the whole request: the hit path is a handful of such calls.
  const text = payload.toString('utf8');
  const space = text.indexOf(' ');
  if (space <= 0) return failure('PERM', 'malformed request: expected "MAPNAME KEY"');
  const name = text.slice(0, space);
  if (name === ctx.health?.map) return healthReply(text.slice(space + 1), dialect, ctx.health.checks);
  const target = ctx.maps.target(name, inet);
  if (target === undefined) return unknownMap(name, ctx);
  if ('refused' in target) return refusedMap(target.refused, name, ctx);
  // No stored key is invalid UTF-8, so such a key is certainly absent (Sendmail may send 8-bit keys).
  // Decoding turned invalid bytes into U+FFFD; only then is the check needed.
  if (text.includes('\uFFFD', space) && !isUtf8(payload)) return notFound(target.notFound);
  const raw = text.slice(space + 1);
  const key = target.foldCase ? raw.toLowerCase() : raw;
  let answer;
  try {
    answer = ctx.tables.lookup(target.table, target.service, key);
  } catch (err) {
    ctx.log.error({ err: String(err), map: name }, 'internal error in lookup');
    return failure('TEMP', 'internal error');
  }
  // The hit path makes no closure: this runs once per request.
  if (!(answer instanceof Promise)) return replyTo(answer, name, dialect, target.notFound, ctx);
  return answer.then(
    (a) => replyTo(a, name, dialect, target.notFound, ctx),
    (err: unknown) => {
      ctx.log.error({ err: String(err), map: name }, 'internal error in lookup');
      return failure('TEMP', 'internal error');
    },
  );
}

function replyTo(a: Answer, name: string, dialect: Dialect, notFoundCode: NotFoundCode, ctx: RequestContext): string {
  if (a.kind === 'error' && a.unknownTable && ctx.missingTable === 'PERM') return unknownMap(name, ctx);
  return logged(replyFor(a, dialect, notFoundCode), name, ctx.log);
}

/** A map no table stands behind: not configured, or (with `missing_table = "PERM"`) a table the function does not have. */
function unknownMap(name: string, ctx: RequestContext): string {
  ctx.log.debug({ map: name }, 'request for an unknown map');
  return ctx.unknownMap === 'PERM' ? failure('PERM', `unknown map ${name}`) : notFound('NOTFOUND');
}

/** A map that exists but is not served on this kind of listener: said plainly, to the client and (at debug) the log. */
function refusedMap(reason: string, name: string, ctx: RequestContext): string {
  ctx.log.debug({ map: name }, 'request for a map not served on this listener');
  return failure('PERM', reason);
}

/** `HEALTHMAP TABLE`: OK with TABLE's generation when the function answers for it, TEMP/TIMEOUT with the cause when not. */
function healthReply(table: string, dialect: Dialect, checks: TableHealth): string | Promise<string> {
  if (!LIMITS.tableName.test(table)) return failure('PERM', 'the health map is asked for a table name');
  return checks.check(table).then((a) => replyFor(a, dialect, 'NOTFOUND'));
}

/**
 * A PERM for a stored value (too large for the client, or with a NUL) is a
 * table problem worth a warning; upstream failures are logged by the
 * resolver, once per HTTP request rather than once per key. Never the key:
 * it may be a login name.
 */
function logged(reply: string, map: string, log: Logger): string {
  if (reply.charCodeAt(0) === 0x50 /* P */) log.warn({ map, reply }, 'stored value cannot be answered');
  return reply;
}
